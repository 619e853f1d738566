import { expect } from 'chai';
import { buildUser } from '../../src/accounts/users.js';
import { modifyUser } from '../../src/accounts/users.js';
import { apiErrorBody, toAppError } from '../../src/http/error-handler.js';
import { MemoryStore } from '../../src/storage/memory.js';
import { WriteConflictError, type UserRepository } from '../../src/storage/types.js';

describe('user writes that keep losing the race', () => {
  it('give up with WriteConflictError after a bounded number of tries, which the API answers 409 [ConcurrentModification]', async () => {
    const users = new MemoryStore().users;
    const user = buildUser({ email: 'busy@example.com' });
    await users.insert(user);
    // Every write finds the record changed since it was read, as under a storm of concurrent writers.
    let writes = 0;
    const losing: UserRepository = Object.assign(Object.create(users) as UserRepository, {
      findWithRevision: (id: string) => users.findWithRevision(id),
      replaceIfUnchanged: async () => {
        writes += 1;
        return false;
      },
    });

    const outcome = await modifyUser(losing, user.id, () => null).then(
      () => null,
      (err: unknown) => err,
    );
    expect(outcome).to.be.instanceOf(WriteConflictError);
    expect(writes, 'tried more than once, and not forever').to.be.greaterThan(1).and.lessThan(100);

    const answer = toAppError(outcome);
    expect(answer.status).to.equal(409);
    expect(apiErrorBody(answer)).to.deep.include({ generalErrors: [{ code: '[ConcurrentModification]', message: answer.message }] });
  });
});
