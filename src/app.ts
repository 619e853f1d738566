import type http from 'node:http';
import path from 'node:path';
import Koa from 'koa';
import Router from '@koa/router';
import type Provider from 'oidc-provider';
import type { Config } from './config/schema.js';
import { projectRoot } from './config/load.js';
import { StoreUnavailableError, type Store } from './storage/types.js';
import { Views } from './render/views.js';
import { createTransport, MailDelivery, type MailTransport } from './mail/index.js';
import { Catalog } from './i18n/catalog.js';
import { DevMailbox } from './mail/dev-mailbox.js';
import { Outbox } from './mail/outbox.js';
import { PasswordlessCodes } from './passwordless/codes.js';
import { MagicLinkMailer } from './passwordless/magic-link.js';
import { RateLimiter } from './passwordless/rate-limits.js';
import { CrossDeviceApprovals } from './passwordless/approval.js';
import { applyUserSeed } from './accounts/users.js';
import { loadKeys, type KeyMaterial } from './provider/keys.js';
import { buildProvider } from './provider/index.js';
import { SecondFactorTries } from './provider/two-factor-prompt.js';
import { assertClientsValid, demoClientSecret, demoEnabled } from './provider/clients.js';
import { interactionRoutes } from './interaction/routes.js';
import { devMailboxRoutes } from './dev/mailbox-routes.js';
import { demoRoutes } from './dev/demo-routes.js';
import { errorHandler } from './http/error-handler.js';
import { securityHeaderList } from './http/security-headers.js';
import { httpHandler, providerSegments } from './http/handler.js';
import { staticAssets } from './http/static.js';
import { CsrfTokens } from './http/csrf.js';
import { trustForwardedFor } from './http/client-ip.js';
import { answerAsIssuer } from './http/issuer-origin.js';
import { restApi, type RestApi } from './api/index.js';
import { SecretBox } from './accounts/secret-box.js';
import { TwoFactorService } from './accounts/two-factor.js';
import { ApiSecondFactor } from './passwordless/two-factor-login.js';
import { twoFactorRoutes } from './interaction/two-factor.js';
import { interactionFallback } from './interaction/fallback.js';

/** Everything one running server is made of; tests reach into it, nothing else should. */
export interface Application {
  koa: Koa;
  /** The HTTP handler: headers and the log line for every request; node-oidc-provider's endpoints directly, the rest through `koa`. */
  handler: http.RequestListener;
  provider: Provider;
  config: Config;
  issuer: string;
  store: Store;
  transport: MailTransport;
  /** Sends with retries; counts outcomes. */
  mail: MailDelivery;
  /** The hosted sender; its `sendNow` is what the API's /send uses. */
  mailer: MagicLinkMailer;
  outbox: Outbox;
  codes: PasswordlessCodes;
  keys: KeyMaterial;
  /** The REST API's routers (the OpenAPI test reads its routes). */
  api: RestApi;
  /** Every Koa router of ours (the fuzz suite enumerates their routes; node-oidc-provider's come from discovery). */
  routers: Router[];
  /** Stops background work and closes connections (the HTTP server is the caller's). */
  close(): Promise<void>;
}

export interface BuildOptions {
  config: Config;
  issuer: string;
  store: Store;
  /** Overrides the transport chosen by config (tests). */
  transport?: MailTransport;
}

/** Builds the whole application on an opened store. */
export async function buildApplication(options: BuildOptions): Promise<Application> {
  const { config, issuer, store } = options;
  const keys = await loadKeys(config);
  // The theme's locales/ folder is read after ours: its keys win and its new files add locales.
  const catalog = new Catalog([path.join(projectRoot, 'locales'), ...(config.theme ? [path.join(path.resolve(config.theme), 'locales')] : [])], config.mail.defaultLocale);
  const views = new Views(path.join(projectRoot, 'views'), config.theme, catalog);
  const transport = options.transport ?? createTransport(config);
  const mail = new MailDelivery(transport, config.mail.retry);
  const outbox = new Outbox();
  const codes = new PasswordlessCodes(store.codes, store.counters, {
    timeToLiveInSeconds: config.passwordless.timeToLiveInSeconds,
    linkCode: config.passwordless.linkCode,
    shortCode: config.passwordless.shortCode,
    maxAttempts: config.passwordless.maxAttempts,
    retainSeconds: config.ttl.Interaction ?? 3600,
  });

  const twoFactor = new TwoFactorService(store, new SecretBox(keys.secretKey), {
    issuerName: config.twoFactor.issuerName,
    trustTimeToLiveInSeconds: config.twoFactor.trustTimeToLiveInSeconds,
    wrongCodesPerAccount: config.rateLimits.enabled ? config.twoFactor.wrongCodesPerAccount : null,
  });
  // One count of each login's second-factor tries, read by the provider's login check and kept by the step's pages.
  const secondFactorTries = new SecondFactorTries(store.counters, config.twoFactor.maxAttempts);
  const provider = buildProvider({ config, issuer, store, keys, views, twoFactor, secondFactorTries });
  await assertClientsValid(provider, config);
  // After every start-up check, so a refused start writes nothing into a lasting store.
  await applyUserSeed(store.users, config.users);
  const mailer = new MagicLinkMailer({ config, issuer, users: store.users, codes, delivery: mail, outbox, views });
  const csrf = new CsrfTokens(keys.cookieKeys);

  const koa = new Koa();
  trustForwardedFor(koa, config);
  answerAsIssuer(koa, issuer);
  koa.keys = [...keys.cookieKeys];
  koa.silent = true;

  const limiter = new RateLimiter(store.counters, config.rateLimits);
  const ours = new Router();
  // Before the sign-in routes: it takes GET /interaction/:uid only while the second-factor step is pending.
  const secondStep = twoFactorRoutes({
    provider,
    views,
    csrf,
    service: twoFactor,
    tries: secondFactorTries,
    interactionTtlSeconds: config.ttl.Interaction ?? 3600,
  });
  ours.use(secondStep.routes(), secondStep.allowedMethods());
  const approvals = new CrossDeviceApprovals(store.codes);
  const interaction = interactionRoutes({ provider, views, users: store.users, codes, mailer, csrf, approvals, limiter });

  ours.use(interaction.routes(), interaction.allowedMethods());
  if (transport instanceof DevMailbox && !config.production) {
    const dev = devMailboxRoutes(transport, views);
    ours.use(dev.routes(), dev.allowedMethods());
  }
  if (demoEnabled(config)) {
    const demo = demoRoutes({ issuer, secret: demoClientSecret(keys.cookieKeys), views });
    ours.use(demo.routes(), demo.allowedMethods());
  }
  ours.get('/health', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  ours.get('/ready', async (ctx) => {
    try {
      await store.ping();
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      // Load balancers and orchestrators read this: JSON, not the error page, and no traffic until it passes.
      ctx.status = 503;
      ctx.set('Retry-After', '5');
      ctx.body = { status: 'unavailable', store: store.kind };
      return;
    }
    ctx.body = { status: 'ready', store: store.kind };
  });
  ours.get('/', (ctx) => ctx.redirect(demoEnabled(config) ? '/demo' : '/.well-known/openid-configuration'));

  koa.use(staticAssets([...(config.theme ? [path.join(path.resolve(config.theme), 'static')] : []), path.join(projectRoot, 'views/static')]));
  koa.use(errorHandler(views));
  const secondFactor = new ApiSecondFactor(store.twoFactorLogins, twoFactor, {
    twoFactorIdTimeToLiveInSeconds: config.twoFactor.twoFactorIdTimeToLiveInSeconds,
    maxAttempts: config.twoFactor.maxAttempts,
  });
  const api = restApi({ config, issuer, provider, store, codes, keys, views, mailer, limiter, csrf, secondFactor });
  koa.use(api.router.routes());
  koa.use(api.fallback);
  // Before ours: the emailed API link takes over the login page of the interaction it started.
  koa.use(api.links.routes());
  koa.use(ours.routes());
  // The sign-in's addresses are ours, matched or not: a readable page rather than the provider's 404.
  koa.use(interactionFallback({ provider, views, routers: [ours, api.links] }));
  koa.use(ours.allowedMethods());
  // Everything else is node-oidc-provider's, untouched (no body parser in front of it).
  const providerCallback = provider.callback();
  koa.use((ctx) => {
    ctx.respond = false;
    return providerCallback(ctx.req, ctx.res);
  });
  const handler = httpHandler({
    segments: providerSegments(provider),
    headers: securityHeaderList({ https: issuer.startsWith('https:') }),
    provider: providerCallback,
    app: koa.callback(),
  });

  return {
    koa,
    handler,
    provider,
    config,
    issuer,
    store,
    transport,
    mail,
    mailer,
    outbox,
    codes,
    keys,
    api,
    routers: [ours, api.router, api.links],
    async close() {
      await outbox.drain();
      await mail.close();
      await store.close();
    },
  };
}
