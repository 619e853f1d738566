import { expect } from 'chai';
import { connectMongoStore } from '../../src/storage/mongodb.js';
import { MemoryStore } from '../../src/storage/memory.js';
import { codeIsOlder } from '../../src/storage/expectations.js';
import type { Store } from '../../src/storage/types.js';
import { ALICE, type TestServer } from '../helpers/server.js';
import { heldInsertsStore, type HeldInsertsStore } from '../helpers/held-inserts-store.js';
import { onEachStore } from '../helpers/stores.js';
import { login, start, startApiServer } from './helpers.js';

/**
 * A double-clicked send, two tabs or a client's retry: two starts for one user at the same
 * moment. Asking again voids the earlier code, so exactly one of the two must work, the newer.
 */
describe('REST API: two /api/passwordless/start for one user at once', () => {
  /** The API server on a memory store or the MongoDB database given, its inserts held at will. */
  const startServer = async (mongodbUri: string | null) => {
    const inner: Store = mongodbUri ? await connectMongoStore(mongodbUri) : new MemoryStore();
    const held = heldInsertsStore(inner);
    const server = await startApiServer({ store: held.store });
    return { server, held, stop: () => server.stop() };
  };

  onEachStore(startServer, (current) => {
    let server: TestServer;
    let held: HeldInsertsStore;
    before(() => {
      ({ server, held } = current());
    });

    it('leaves exactly one of the two codes able to log in: the newer one', async () => {
      for (let round = 0; round < 3; round += 1) {
        // Both codes are stored before either start supersedes the user's other codes.
        held.holdInserts(2);
        const started = await Promise.all([1, 2].map(() => start(server, { applicationId: 'web', loginId: ALICE.email })));
        expect(started.map((answer) => answer.status)).to.deep.equal([200, 200]);
        const codes = started.map((answer) => answer.json!.code as string);
        const records = await Promise.all(codes.map(async (code) => (await server.app.codes.inspect(code)).record!));
        const newer = codeIsOlder(records[0]!, records[1]!) ? 1 : 0;
        const logins = [];
        for (const code of codes) logins.push((await login(server, { code })).status);
        expect(logins, `round ${round}: the newer code is #${newer + 1}`).to.deep.equal(newer === 0 ? [200, 404] : [404, 200]);
      }
    });
  });
});
