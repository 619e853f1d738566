import { expect } from 'chai';
import { DuplicateKeyError } from '../../../src/storage/types.js';
import { modifyUser } from '../../../src/accounts/users.js';
import { makeUser, race, uniqueId, useStore, type StoreHarness } from './harness.js';

async function expectDuplicate(operation: Promise<unknown>, field: string): Promise<void> {
  const error = await operation.then(
    () => expect.fail(`expected a DuplicateKeyError on ${field}`),
    (caught: unknown) => caught,
  );
  expect(error).to.be.instanceOf(DuplicateKeyError).with.property('field', field);
}

export { expectDuplicate };

/** The user repository. */
export function usersContract(harness: StoreHarness): void {
  describe('users', () => {
    const store = useStore(harness);

    it('returns an inserted user exactly as given, by id and by normalised email', async () => {
      const user = makeUser({
        email: 'Ada.Lovelace@Example.test',
        emailNormalized: 'ada.lovelace@example.test',
        firstName: 'Ada',
        lastName: 'Lovelace',
        preferredLanguages: ['en', 'fr'],
        timezone: 'Europe/London',
        data: { favourite: { colour: 'green' }, tags: ['a', 'b'] },
        registrations: [{ id: uniqueId(), applicationId: 'app', roles: ['admin'], insertInstant: 1, lastLoginInstant: 2 }],
        lastLoginInstant: 1_700_000_500_000,
      });
      await store().users.insert(user);
      expect(await store().users.findById(user.id)).to.deep.equal(user);
      expect(await store().users.findByEmail('ada.lovelace@example.test')).to.deep.equal(user);
    });

    it('reads optional fields left undefined back as undefined, never null', async () => {
      const user = makeUser({ firstName: undefined });
      await store().users.insert(user);
      const found = await store().users.findById(user.id);
      expect(found?.firstName).to.equal(undefined);
      expect(found?.lastLoginInstant).to.equal(undefined);
      expect(JSON.parse(JSON.stringify(found))).to.deep.equal(JSON.parse(JSON.stringify(user)));
    });

    it('returns null for an unknown id or email', async () => {
      expect(await store().users.findById(uniqueId())).to.equal(null);
      expect(await store().users.findByEmail('nobody@example.test')).to.equal(null);
    });

    it('refuses a second user with the same normalised email, and stores nothing', async () => {
      const first = makeUser({ email: 'twin@example.test', emailNormalized: 'twin@example.test' });
      const second = makeUser({ email: 'TWIN@example.test', emailNormalized: 'twin@example.test' });
      await store().users.insert(first);
      await expectDuplicate(store().users.insert(second), 'email');
      expect(await store().users.findById(second.id)).to.equal(null);
      expect((await store().users.findByEmail('twin@example.test'))?.id).to.equal(first.id);
    });

    it('refuses a second user with the same id', async () => {
      const first = makeUser();
      await store().users.insert(first);
      await expectDuplicate(store().users.insert(makeUser({ id: first.id, email: 'other@example.test' })), 'id');
      expect(await store().users.findById(first.id)).to.deep.equal(first);
    });

    it('replaceIfUnchanged replaces a user whole, moving the email lookup with it', async () => {
      const user = makeUser({ firstName: 'Old', timezone: 'UTC' });
      await store().users.insert(user);
      const { revision } = (await store().users.findWithRevision(user.id))!;
      const { timezone: _dropped, ...rest } = user;
      const replacement = { ...rest, firstName: 'New', email: 'moved@example.test', emailNormalized: 'moved@example.test' };
      expect(await store().users.replaceIfUnchanged(replacement, revision)).to.equal(true);
      expect(await store().users.findById(user.id)).to.deep.equal(replacement);
      expect(await store().users.findByEmail(user.emailNormalized)).to.equal(null);
      expect((await store().users.findByEmail('moved@example.test'))?.id).to.equal(user.id);
    });

    it('replaceIfUnchanged answers false for an unknown user and does not create it', async () => {
      const ghost = makeUser();
      expect(await store().users.replaceIfUnchanged(ghost, null)).to.equal(false);
      expect(await store().users.findById(ghost.id)).to.equal(null);
    });

    it('records a login on the user and on the registration of that client only, in one write', async () => {
      const registered = { id: uniqueId(), applicationId: 'app', roles: ['admin'], insertInstant: 1 };
      const other = { id: uniqueId(), applicationId: 'other-app', roles: [], insertInstant: 1, lastLoginInstant: 5 };
      const user = makeUser({ registrations: [registered, other] });
      await store().users.insert(user);
      const expected = { ...user, lastLoginInstant: 1_700_000_900_000, registrations: [{ ...registered, lastLoginInstant: 1_700_000_900_000 }, other] };
      expect(await store().users.recordLogin(user.id, 'app', 1_700_000_900_000)).to.deep.equal(expected);
      expect(await store().users.findById(user.id)).to.deep.equal(expected);

      // A client the user is not registered for, or none: only the user's own instant moves.
      expect((await store().users.recordLogin(user.id, 'unregistered-app', 1_700_000_950_000))?.registrations).to.deep.equal(expected.registrations);
      const plain = await store().users.recordLogin(user.id, null, 1_700_001_000_000);
      expect(plain).to.deep.equal({ ...expected, lastLoginInstant: 1_700_001_000_000 });
    });

    it('recording a login changes only the login instants (a lock stays), and answers null for an unknown user', async () => {
      const user = makeUser();
      await store().users.insert(user);
      expect(await modifyUser(store().users, user.id, (current) => {
        current.active = false;
        return null;
      })).to.not.equal(null);
      const after = await store().users.recordLogin(user.id, null, 1_700_000_900_000);
      expect(after).to.include({ active: false, lastLoginInstant: 1_700_000_900_000 });
      expect(await store().users.findById(user.id)).to.deep.equal(after);
      expect(await store().users.recordLogin(uniqueId(), 'app', 1)).to.equal(null);
    });

    it('replaceIfUnchanged writes only while nothing wrote the user since it was read', async () => {
      const user = makeUser({ firstName: 'Old' });
      await store().users.insert(user);
      const read = await store().users.findWithRevision(user.id);
      expect(read?.user).to.deep.equal(user);
      expect(await store().users.replaceIfUnchanged({ ...user, firstName: 'First' }, read!.revision)).to.equal(true);
      expect(await store().users.replaceIfUnchanged({ ...user, firstName: 'Stale' }, read!.revision), 'a second write of the same read').to.equal(false);
      expect((await store().users.findById(user.id))?.firstName).to.equal('First');

      // Every kind of write renews the revision: a read before it is stale after it.
      const replaced = () => modifyUser(store().users, user.id, (current) => {
        current.firstName = 'Replaced';
        return null;
      });
      for (const write of [replaced, () => store().users.recordLogin(user.id, null, 1_700_000_900_000)]) {
        const before = await store().users.findWithRevision(user.id);
        await write();
        expect(await store().users.replaceIfUnchanged({ ...before!.user, active: false }, before!.revision)).to.equal(false);
        expect((await store().users.findById(user.id))?.active).to.equal(true);
      }
      const ghost = makeUser();
      expect(await store().users.findWithRevision(ghost.id)).to.equal(null);
      expect(await store().users.replaceIfUnchanged(ghost, null)).to.equal(false);
      expect(await store().users.findById(ghost.id)).to.equal(null);
    });

    it('lets exactly one of 20 concurrent replaceIfUnchanged of one read win', async () => {
      const user = makeUser();
      await store().users.insert(user);
      const read = await store().users.findWithRevision(user.id);
      let n = 0;
      const { fulfilled, rejected } = await race(20, () => store().users.replaceIfUnchanged({ ...read!.user, firstName: `writer-${(n += 1)}` }, read!.revision));
      expect(rejected).to.deep.equal([]);
      expect(fulfilled.filter(Boolean)).to.have.length(1);
    });

    it('loses none of 20 concurrent read-modify-writes of one user', async () => {
      const user = makeUser({ data: {} });
      await store().users.insert(user);
      let n = 0;
      const { rejected } = await race(20, () => {
        const key = `k${(n += 1)}`;
        return modifyUser(store().users, user.id, (current) => {
          current.data = { ...current.data, [key]: true };
          return null;
        });
      });
      expect(rejected).to.deep.equal([]);
      expect(Object.keys((await store().users.findById(user.id))!.data).sort()).to.deep.equal(Array.from({ length: 20 }, (_, i) => `k${i + 1}`).sort());
    });

    it('replaceIfUnchanged refuses an email another user holds', async () => {
      const holder = makeUser();
      const mover = makeUser();
      await store().users.insert(holder);
      await store().users.insert(mover);
      const { revision } = (await store().users.findWithRevision(mover.id))!;
      await expectDuplicate(store().users.replaceIfUnchanged({ ...mover, emailNormalized: holder.emailNormalized }, revision), 'email');
      expect(await store().users.findById(mover.id)).to.deep.equal(mover);
    });

    it('stores the profile fields and finds a user by normalised username', async () => {
      const user = makeUser({ username: 'Ada_L', usernameNormalized: 'ada_l', middleName: 'King', fullName: 'Augusta Ada King', mobilePhone: '+44 20 7946 0000', birthDate: '1815-12-10', imageUrl: 'https://example.test/ada.png' });
      await store().users.insert(user);
      expect(await store().users.findByUsername('ada_l')).to.deep.equal(user);
      expect(await store().users.findByUsername('nobody')).to.equal(null);
    });

    it('refuses a second user with the same normalised username, while any number may have none', async () => {
      const first = makeUser({ username: 'twin', usernameNormalized: 'twin' });
      await store().users.insert(first);
      await store().users.insert(makeUser());
      await store().users.insert(makeUser());
      const second = makeUser({ username: 'TWIN', usernameNormalized: 'twin' });
      await expectDuplicate(store().users.insert(second), 'username');
      expect(await store().users.findById(second.id)).to.equal(null);
      const mover = makeUser();
      await store().users.insert(mover);
      const { revision } = (await store().users.findWithRevision(mover.id))!;
      await expectDuplicate(store().users.replaceIfUnchanged({ ...mover, username: 'Twin', usernameNormalized: 'twin' }, revision), 'username');
      expect(await store().users.findById(mover.id)).to.deep.equal(mover);
    });

    it('replaceIfUnchanged moves the username lookup with the user, and delete frees it', async () => {
      const user = makeUser({ username: 'before', usernameNormalized: 'before' });
      await store().users.insert(user);
      const { revision } = (await store().users.findWithRevision(user.id))!;
      expect(await store().users.replaceIfUnchanged({ ...user, username: 'after', usernameNormalized: 'after' }, revision)).to.equal(true);
      expect(await store().users.findByUsername('before')).to.equal(null);
      expect((await store().users.findByUsername('after'))?.id).to.equal(user.id);
      await store().users.insert(makeUser({ username: 'before', usernameNormalized: 'before' }));
      expect(await store().users.delete(user.id)).to.equal(true);
      expect(await store().users.findByUsername('after')).to.equal(null);
      await store().users.insert(makeUser({ username: 'after', usernameNormalized: 'after' }));
    });

    it('delete removes the user and frees the email; a second delete answers false', async () => {
      const user = makeUser();
      await store().users.insert(user);
      expect(await store().users.delete(user.id)).to.equal(true);
      expect(await store().users.delete(user.id)).to.equal(false);
      expect(await store().users.findById(user.id)).to.equal(null);
      expect(await store().users.findByEmail(user.emailNormalized)).to.equal(null);
      await store().users.insert(makeUser({ email: user.email, emailNormalized: user.emailNormalized }));
    });
  });

  describe('users.list', () => {
    const store = useStore(harness);

    it('pages through users in insertion order', async () => {
      const users = [3, 1, 2, 5, 4].map((n) => makeUser({ id: `user-${n}`, insertInstant: n * 1000 }));
      for (const user of users) await store().users.insert(user);
      const ids = (list: { id: string }[]): string[] => list.map((user) => user.id);
      expect(ids(await store().users.list({ limit: 10, offset: 0 }))).to.deep.equal(['user-1', 'user-2', 'user-3', 'user-4', 'user-5']);
      expect(ids(await store().users.list({ limit: 2, offset: 1 }))).to.deep.equal(['user-2', 'user-3']);
      expect(await store().users.list({ limit: 0, offset: 0 })).to.deep.equal([]);
      expect(await store().users.list({ limit: 5, offset: 5 })).to.deep.equal([]);
      expect((await store().users.list({ limit: 1, offset: 0 }))[0]).to.deep.equal(users[1]);
    });
  });
}
