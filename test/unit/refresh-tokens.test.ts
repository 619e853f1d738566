import { expect } from 'chai';
import { MemoryStore } from '../../src/storage/memory.js';
import type { RefreshTokenRepository } from '../../src/storage/types.js';
import { ApiRefreshTokens, type RefreshTokenUsagePolicy } from '../../src/tokens/refresh.js';

/** The memory repository, counting the calls of each method. */
function counted(): { repository: RefreshTokenRepository; calls: Map<string, number> } {
  const inner = new MemoryStore().refreshTokens;
  const calls = new Map<string, number>();
  const repository = new Proxy(inner, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.set(String(name), (calls.get(String(name)) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { repository, calls };
}

describe('ApiRefreshTokens: usage policies', () => {
  const USER = '00000000-0000-4000-8000-000000000001';

  it('rotates without reading the token first when no application is Reusable (the default)', async () => {
    const { repository, calls } = counted();
    const tokens = new ApiRefreshTokens(repository, 60);
    const { refreshToken } = await tokens.issue(USER, 'web', Date.now());
    calls.clear();
    const accepted = await tokens.accept(refreshToken);
    expect(accepted).to.include({ reusable: false });
    expect(calls.get('findByHash') ?? 0).to.equal(0);
    expect(await tokens.accept(refreshToken), 'spent').to.equal(null);
  });

  it('with a Reusable application: its token stays valid use after use, another application\'s rotates', async () => {
    const { repository } = counted();
    const tokens = new ApiRefreshTokens(repository, 60, new Map<string, RefreshTokenUsagePolicy>([['keeps', 'Reusable']]));
    const kept = await tokens.issue(USER, 'keeps', Date.now());
    for (let use = 0; use < 3; use += 1) expect((await tokens.accept(kept.refreshToken))?.reusable, `use ${use + 1}`).to.equal(true);
    const rotated = await tokens.issue(USER, 'web', Date.now());
    expect((await tokens.accept(rotated.refreshToken))?.reusable).to.equal(false);
    expect(await tokens.accept(rotated.refreshToken), 'spent').to.equal(null);
    expect(await tokens.accept('unknown-token')).to.equal(null);
  });

  it('refuses a Reusable application\'s token once it has expired', async () => {
    const tokens = new ApiRefreshTokens(new MemoryStore().refreshTokens, 1, new Map<string, RefreshTokenUsagePolicy>([['keeps', 'Reusable']]));
    const now = Date.now();
    const { refreshToken } = await tokens.issue(USER, 'keeps', now, now);
    expect(await tokens.accept(refreshToken, now + 30_000)).to.not.equal(null);
    expect(await tokens.accept(refreshToken, now + 61_000)).to.equal(null);
  });
});
