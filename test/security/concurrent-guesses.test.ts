import http from 'node:http';
import { expect } from 'chai';
import { Browser } from '../helpers/browser.js';
import { ALICE, BOB, type TestServer } from '../helpers/server.js';
import { authorizationRequest, discover, lastMailTo, linkOf, requestLink, shortCodeOf } from '../helpers/oidc.js';
import { onEachStore } from '../helpers/stores.js';
import { call, startApiServer, START_KEY } from '../api/helpers.js';
import { enrolledUser, landedWithCode, totpCode, wrongTotpCodes } from '../two-factor/helpers.js';
import { awayFromWindowEnd } from '../helpers/rate-window.js';
import { hashCode } from '../../src/passwordless/hash.js';
import type { TypedCodeResult } from '../../src/passwordless/codes.js';
import { TwoFactorService } from '../../src/accounts/two-factor.js';
import { SecretBox } from '../../src/accounts/secret-box.js';
import { createUser } from '../../src/accounts/admin.js';
import { PasswordlessApi } from '../../src/passwordless/api-login.js';
import { providerApplications } from '../../src/api/applications.js';
import { RateLimiter } from '../../src/passwordless/rate-limits.js';
import { ApiTokenSigner } from '../../src/tokens/jwt.js';
import { ApiRefreshTokens } from '../../src/tokens/refresh.js';

/**
 * Guesses sent at the same moment must not get past the limits: every guess takes its try
 * before it is compared, so of a burst at most `maxAttempts` (5) guesses of one code are ever
 * compared, and a guess past them fails even when it is right.
 */

const MAX_ATTEMPTS = 5;
const BURST = 20;

/** Six-digit codes other than `right`, none of them equal to it. */
function wrongCodes(right: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => String((Number(right) + 1 + i) % 1_000_000).padStart(6, '0'));
}

/** One JSON POST on its own connection, never resent (Node's fetch resends a request answered 421). */
function postOnce(url: string, body: unknown): Promise<number> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    request.on('error', reject);
    request.end(payload);
  });
}

/**
 * `uri` with a single connection: the store's operations then reach the database in the order
 * they are called, so "the right code last" means last there too. The invariants checked
 * besides hold for any order.
 */
function oneConnection(uri: string): string {
  // The test engine's URIs have it already (see mongo-engine.ts).
  if (/[?&]maxPoolSize=/.test(uri)) return uri;
  return `${uri}${uri.includes('?') ? '&' : '?'}maxPoolSize=1`;
}

/** Starts the API server with `config` on the store onEachStore gives, MongoDB on one connection. */
function apiServerWith(config: Record<string, unknown>): (mongodbUri: string | null) => Promise<TestServer> {
  return (mongodbUri) => startApiServer({ config: mongodbUri ? { ...config, storage: { mongodbUri: oneConnection(mongodbUri) } } : config });
}

describe('concurrent guesses (security)', () => {
  describe('typed short codes, at the code service', () => {
    onEachStore(apiServerWith({}), (server) => {
      it('compares at most 5 of 20 concurrent guesses; the right code sent last fails', async () => {
        const user = await server().app.store.users.findByEmail(ALICE.email);
        const issued = await server().app.codes.issue({ userId: user!.id, clientId: 'web', interactionUid: 'race-uid', withShortCode: true });
        const right = issued.shortCode!;
        const guesses = [...wrongCodes(right, BURST - 1), right];
        const results = await Promise.all(guesses.map((guess) => server().app.codes.redeemShortCode(issued.record, guess)));

        expect(results.at(-1), 'the right code past the limit').to.deep.equal({ ok: false, problem: 'exhausted' });
        expect(results.filter((r) => r.ok), 'no guess signed in').to.have.length(0);
        // "N tries left" is told by at most the first four (on a store without exact update results, fewer).
        expect(results.filter((r) => !r.ok && r.problem === 'wrong').length, 'wrong answers with tries left').to.be.at.most(MAX_ATTEMPTS - 1);
        const stored = await server().app.store.codes.findById(issued.record.id, Date.now());
        expect(stored).to.include({ attempts: MAX_ATTEMPTS, status: 'exhausted' });
        expect(await server().app.codes.redeemShortCode(issued.record, right)).to.deep.equal({ ok: false, problem: 'exhausted' });
      });

      it('still takes the right code on an allowed try within a burst', async () => {
        const user = await server().app.store.users.findByEmail(ALICE.email);
        const issued = await server().app.codes.issue({ userId: user!.id, clientId: 'web', interactionUid: 'race-uid-2', withShortCode: true });
        const right = issued.shortCode!;
        const guesses = [...wrongCodes(right, MAX_ATTEMPTS - 1), right, ...wrongCodes(right, 10)];
        const results: TypedCodeResult[] = await Promise.all(guesses.map((guess) => server().app.codes.redeemShortCode(issued.record, guess)));
        expect(results[MAX_ATTEMPTS - 1]!.ok, 'the fifth guess, the right one, signs in').to.equal(true);
        expect(results.filter((r) => r.ok)).to.have.length(1);
        expect((await server().app.store.codes.findById(issued.record.id, Date.now()))?.status).to.equal('used');
      });
    });
  });

  describe('typed codes and the per-account budget, over HTTP', () => {
    /** Fewer tries an hour than a code has, so the budget is what stops a burst. */
    const BUDGET = 3;
    const limits = { rateLimits: { enabled: true, typedCodesPerAccount: { limit: BUDGET, windowSeconds: 3600 } } };
    onEachStore(apiServerWith(limits), (server) => {
      it('hosted form: of 20 guesses posted at once, compares at most the budget and refuses the rest with 429', async () => {
        await awayFromWindowEnd([3600]);
        const browser = new Browser(server().issuer);
        const page = await requestLink(browser, await authorizationRequest(await discover(server())), ALICE.email);
        await server().mails();
        const right = shortCodeOf((await lastMailTo(server(), ALICE.email))!);
        const uid = new URL(page.url).pathname.split('/')[2]!;
        const codeId = (await server().app.store.codes.findLatestForInteraction(uid, Date.now()))!.id;

        const guesses = [...wrongCodes(right, BURST - 1), right];
        const answers = await Promise.all(guesses.map((code) => browser.submit(page, '/code', { code })));
        const signedIn = answers.filter((a) => a.status === 0);
        expect(signedIn.length, 'at most one sign-in').to.be.at.most(1);
        expect(answers.filter((a) => a.status === 429).length, 'refused by the budget, unchecked').to.be.at.least(BURST - BUDGET);
        expect((await server().app.store.codes.findById(codeId, Date.now()))!.attempts, 'guesses compared').to.be.at.most(BUDGET);
      });

      it('API login service: of 20 concurrent logins with one-time codes, compares at most the budget and answers the rest 429', async () => {
        await awayFromWindowEnd([3600]);
        const app = server().app;
        // The login service as the server builds it, over the same store and settings.
        const api = new PasswordlessApi({
          users: app.store.users,
          codes: app.codes,
          signer: new ApiTokenSigner(app.issuer, app.keys.jwks, app.config.api.jwtTimeToLiveInSeconds, app.config.api.jwtSigningAlgorithm),
          refreshTokens: new ApiRefreshTokens(app.store.refreshTokens, app.config.api.refreshTokenTimeToLiveInMinutes),
          limiter: new RateLimiter(app.store.counters, app.config.rateLimits),
          applications: providerApplications(app.provider),
        });
        const user = await createUser(app.store.users, { email: `burst-${Date.now()}@example.com` });
        const issued = await app.codes.issue({ userId: user.id, clientId: null, withShortCode: true });
        const right = issued.shortCode!;
        const [first, ...guesses] = [...wrongCodes(right, BURST - 1), right];
        const request = { application: null, noJWT: true, twoFactorTrustId: null, ipAddress: null, deviceType: null };
        // One wrong code first opens the budget's window, so the burst only adds to it.
        expect((await api.login({ ...request, code: issued.linkCode, oneTimeCode: first! })).kind).to.equal('not_found');
        const outcomes = await Promise.all(guesses.map((oneTimeCode) => api.login({ ...request, code: issued.linkCode, oneTimeCode })));
        const kinds = outcomes.map((o) => o.kind);
        expect(kinds.at(-1), 'the right code, sent last').to.equal('rate_limited');
        expect(kinds.filter((k) => k === 'complete'), 'no login').to.deep.equal([]);
        expect(kinds.filter((k) => k === 'rate_limited').length, 'refused by the budget, unchecked').to.be.at.least(guesses.length - (BUDGET - 1));
        expect((await app.store.codes.findById(issued.record.id, Date.now()))!.attempts, 'one-time codes compared').to.be.at.most(BUDGET);
      });

      it('API login: of 20 one-time codes posted at once, compares at most the budget', async () => {
        await awayFromWindowEnd([3600]);
        const started = await call(server(), 'POST', '/api/passwordless/start', { key: START_KEY, body: { applicationId: 'web', loginId: BOB.email, loginStrategy: 'FormField' } });
        const { code, oneTimeCode } = started.json! as { code: string; oneTimeCode: string };
        const guesses = [...wrongCodes(oneTimeCode, BURST - 1), oneTimeCode];
        const statuses = (await Promise.all(guesses.map((guess) => call(server(), 'POST', '/api/passwordless/login', { body: { code, oneTimeCode: guess } })))).map((a) => a.status);
        expect(statuses.filter((s) => s === 200).length, 'at most one login').to.be.at.most(1);
        expect(statuses.filter((s) => s !== 200 && s !== 404 && s !== 429), 'other answers').to.deep.equal([]);
        expect((await server().app.store.codes.findById(hashCode(code), Date.now()))!.attempts, 'one-time codes compared').to.be.at.most(BUDGET);
      });
    });
  });

  describe('API second factor (twoFactorId)', () => {
    onEachStore(apiServerWith({}), (server) => {
      it('checks at most 5 of 20 answers posted at once, and refuses the unchecked right code exactly like the unchecked wrong ones', async () => {
        const user = await enrolledUser(server());
        const started = await call(server(), 'POST', '/api/passwordless/start', { key: START_KEY, body: { applicationId: 'web', loginId: user.email } });
        const login = await call(server(), 'POST', '/api/passwordless/login', { body: { code: started.json!.code, applicationId: 'web' } });
        expect(login.status).to.equal(242);
        const twoFactorId = login.json!.twoFactorId as string;
        const answers = [...wrongTotpCodes(user.secret, BURST - 1), totpCode(user.secret)];
        const statuses = await Promise.all(answers.map((code) => postOnce(`${server().issuer}/api/two-factor/login`, { twoFactorId, code })));

        const checked = statuses.filter((s) => s === 421 || s === 200);
        expect(checked.length, 'answers checked').to.be.at.most(MAX_ATTEMPTS);
        expect(statuses.filter((s) => s !== 421 && s !== 200 && s !== 404), 'other answers').to.deep.equal([]);
        const record = await server().app.store.twoFactorLogins.findById(hashCode(twoFactorId), Date.now());
        expect(record!.attempts).to.be.at.most(MAX_ATTEMPTS);
        // Whatever order the requests reached the server in: the right code is refused only when five wrong ones took the tries.
        if (statuses.at(-1) !== 200) {
          expect(statuses.at(-1)).to.equal(404);
          expect(statuses.filter((s) => s === 421)).to.have.length(MAX_ATTEMPTS);
          expect(record).to.include({ status: 'pending', attempts: MAX_ATTEMPTS });
        }
      });

      it('gives a user at most 20 checked answers an hour across twoFactorIds, however many arrive at once', async () => {
        await awayFromWindowEnd([3600]);
        const user = await enrolledUser(server());
        // The service as the server builds it, over the same store and key: the budget is the user's, whoever checks.
        const service = new TwoFactorService(server().app.store, new SecretBox(server().app.keys.secretKey), {
          issuerName: 'test',
          trustTimeToLiveInSeconds: 60,
          wrongCodesPerAccount: server().app.config.twoFactor.wrongCodesPerAccount,
        });
        const wrong = wrongTotpCodes(user.secret, 30);
        const results = await Promise.all(wrong.map((code) => service.verify(user.id, code)));
        const limit = server().app.config.twoFactor.wrongCodesPerAccount.limit;
        expect(results.filter((r) => !r.ok && r.problem === 'wrong').length, 'checked').to.be.at.most(limit);
        expect(results.filter((r) => !r.ok && r.problem === 'limited').length, 'refused unchecked').to.be.at.least(wrong.length - limit);
        expect((await service.verify(user.id, totpCode(user.secret))).ok, 'the budget is spent: even the right code waits').to.equal(false);
      });
    });
  });
  describe('hosted second-factor step', () => {
    onEachStore(apiServerWith({}), (server) => {
      it('checks at most 5 of 20 codes posted at once; a right code past them is refused like the rest', async () => {
        const user = await enrolledUser(server());
        const browser = new Browser(server().issuer);
        await requestLink(browser, await authorizationRequest(await discover(server())), user.email);
        const page = await browser.get(linkOf((await lastMailTo(server(), user.email))!));
        expect(page.body).to.include('Enter your verification code');

        const codes = [...wrongTotpCodes(user.secret, BURST - 1), totpCode(user.secret)];
        const answers = await Promise.all(codes.map((code) => browser.submit(page, '/two-factor', { code })));
        const signedIn = answers.filter(landedWithCode);
        const triesLeft = answers.filter((answer) => answer.status === 400 && /(tries|try) left/.test(answer.body));
        expect(signedIn.length, 'at most one sign-in').to.be.at.most(1);
        // Each code takes its try before it is checked: four wrong ones can hear "tries left", the fifth voids the step.
        expect(triesLeft.length, 'wrong codes answered with tries left').to.be.at.most(MAX_ATTEMPTS - 1);
        if (signedIn.length === 0) {
          expect(answers.filter((answer) => !triesLeft.includes(answer)).map((answer) => answer.status), 'refused unchecked, as the step is void').to.deep.equal(Array(BURST - triesLeft.length).fill(429));
        }
      });
    });
  });
});
