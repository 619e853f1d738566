import { expect } from 'chai';
import { MemoryStore } from '../../src/storage/memory.js';
import type { PasswordlessCodeRecord } from '../../src/storage/types.js';

/** The `extraFields` expectation of CodeRepository.compareAndSet, which cross-device approval relies on. */
describe('code store: compareAndSet on fields of extra', () => {
  const record = (extra?: Record<string, unknown>): PasswordlessCodeRecord => ({
    id: `id-${Math.random()}`,
    shortHash: null,
    userId: 'u1',
    owner: 'u1',
    sequence: 1,
    clientId: 'web',
    interactionUid: 'i1',
    state: null,
    status: 'active',
    attempts: 0,
    createdAt: 1000,
    expiresAt: 100_000,
    retainUntil: 200_000,
    ...(extra ? { extra } : {}),
  });

  it('applies the update only when every named field of extra is equal', async () => {
    const { codes } = new MemoryStore();
    const code = record({ approval: 'pending', pairNumber: '42' });
    await codes.insert(code);
    expect(await codes.compareAndSet(code.id, { extraFields: { approval: 'pending', pairNumber: '43' } }, { status: 'used' })).to.equal(null);
    expect(await codes.compareAndSet(code.id, { extraFields: { approval: 'approved' } }, { status: 'used' })).to.equal(null);
    const updated = await codes.compareAndSet(
      code.id,
      { status: 'active', extraFields: { approval: 'pending', pairNumber: '42' } },
      { extra: { approval: 'approved', pairNumber: '42' } },
    );
    expect(updated?.extra).to.deep.equal({ approval: 'approved', pairNumber: '42' });
    expect(await codes.compareAndSet(code.id, { extraFields: { approval: 'pending' } }, { status: 'used' }), 'only once').to.equal(null);
  });

  it('never matches a record without extra, or without that field', async () => {
    const { codes } = new MemoryStore();
    const bare = record();
    const other = record({ something: 'else' });
    await codes.insert(bare);
    await codes.insert(other);
    expect(await codes.compareAndSet(bare.id, { extraFields: { approval: 'pending' } }, { status: 'used' })).to.equal(null);
    expect(await codes.compareAndSet(other.id, { extraFields: { approval: 'pending' } }, { status: 'used' })).to.equal(null);
  });
});
