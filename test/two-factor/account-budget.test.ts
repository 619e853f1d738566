import { expect } from 'chai';
import { type TestServer } from '../helpers/server.js';
import { startApiServer } from '../api/helpers.js';
import { TwoFactorService } from '../../src/accounts/two-factor.js';
import { SecretBox } from '../../src/accounts/secret-box.js';
import { enrolledUser, wrongTotpCodes } from './helpers.js';

/**
 * The second factor's per-account budget (twoFactor.wrongCodesPerAccount) counts wrong answers:
 * every answer takes a unit before it is checked and a right answer gives its unit back, so a
 * user who signs in often is never limited, while wrong answers spend the budget.
 */
describe('the second factor’s per-account budget', () => {
  const LIMIT = 3;
  let server: TestServer;
  let service: TwoFactorService;
  before(async () => {
    server = await startApiServer();
    // The service as the server builds it, over the same store and key, with a small budget.
    service = new TwoFactorService(server.app.store, new SecretBox(server.app.keys.secretKey), {
      issuerName: 'test',
      trustTimeToLiveInSeconds: 60,
      wrongCodesPerAccount: { limit: LIMIT, windowSeconds: 3600 },
    });
  });
  after(() => server.stop());

  it('takes right answers beyond the budget in one window, then refuses every answer once wrong ones spent it', async () => {
    const user = await enrolledUser(server, 'budget');
    // One moment for every call: all of them fall in the same window.
    const now = Date.now();
    // Recovery codes: each is a right answer once, so there are more right answers than the budget.
    const right = user.recoveryCodes.slice(0, LIMIT + 3);
    for (const [i, code] of right.entries()) expect(await service.verify(user.id, code, now), `right answer #${i + 1}`).to.deep.equal({ ok: true, kind: 'recovery_code' });

    const wrong = wrongTotpCodes(user.secret, LIMIT + 1);
    for (const code of wrong.slice(0, LIMIT)) expect(await service.verify(user.id, code, now)).to.deep.equal({ ok: false, problem: 'wrong' });
    expect(await service.verify(user.id, wrong[LIMIT]!, now), 'past the budget').to.deep.equal({ ok: false, problem: 'limited' });
    expect(await service.verify(user.id, user.recoveryCodes[LIMIT + 3]!, now), 'even a right answer, unchecked').to.deep.equal({ ok: false, problem: 'limited' });
    // Refused unchecked: the recovery code was not spent, and works in the next window.
    expect(await service.verify(user.id, user.recoveryCodes[LIMIT + 3]!, now + 3_600_000)).to.deep.equal({ ok: true, kind: 'recovery_code' });
  });
});
