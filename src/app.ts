import type http from 'node:http';
import path from 'node:path';
import Koa from 'koa';
import Router from '@koa/router';
import type Provider from 'oidc-provider';
import { magicLink, type MagicLink, type MailStats } from './index.js';
import type { Config } from './config/schema.js';
import { projectRoot } from './config/load.js';
import { magicLinkOptions } from './config/magic-link.js';
import { StoreUnavailableError, type Store } from './storage/types.js';
import { Views } from './render/views.js';
import { createTransport, MailDelivery, type MailTransport } from './mail/index.js';
import { Catalog } from './i18n/catalog.js';
import { DevMailbox } from './mail/dev-mailbox.js';
import { PasswordlessCodes } from './passwordless/codes.js';
import { DirectLinkMailer } from './passwordless/magic-link.js';
import { RateLimiter } from './passwordless/rate-limits.js';
import { applyUserSeed } from './accounts/users.js';
import { loadKeys, type KeyMaterial } from './provider/keys.js';
import { buildProvider } from './provider/index.js';
import { assertClientsValid, demoClientSecret, demoEnabled } from './provider/clients.js';
import { devMailboxRoutes } from './dev/mailbox-routes.js';
import { demoRoutes } from './dev/demo-routes.js';
import { errorHandler } from './http/error-handler.js';
import { securityHeaderList } from './http/security-headers.js';
import { httpHandler, providerSegments } from './http/handler.js';
import { CsrfTokens } from './http/csrf.js';
import { useBase } from './http/page.js';
import { trustForwardedFor } from './http/client-ip.js';
import { answerAsIssuer, issuerPath } from './http/issuer-origin.js';
import { restApi, type RestApi } from './api/index.js';
import { SecretBox } from './accounts/secret-box.js';
import { TwoFactorService } from './accounts/two-factor.js';
import { ApiSecondFactor } from './passwordless/two-factor-login.js';
import { interactionFallback } from './interaction/fallback.js';
import { apiLinkSessionCheck } from './api/emailed-link.js';
import { tapEvents } from './log.js';
import { serverMetrics, type ServerMetrics } from './metrics/index.js';
import { Events } from './events/events.js';
import { WebhookSender } from './events/sender.js';

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
  /** Mail counts of the hosted pages and the API together. */
  mail: { readonly stats: MailStats };
  /** The API's sender (its `sendNow` is what /send uses). */
  mailer: DirectLinkMailer;
  /** `drain()` waits for every email queued so far (the hosted pages queue theirs; the API's /send waits for its own). */
  outbox: { drain(): Promise<void> };
  codes: PasswordlessCodes;
  keys: KeyMaterial;
  /** The REST API's routers (the OpenAPI test reads its routes). */
  api: RestApi;
  /** Every Koa router of ours (the fuzz suite enumerates their routes; node-oidc-provider's come from discovery). */
  routers: Router[];
  /** Events for webhooks, and the background sender that posts them. */
  events: Events;
  webhooks: WebhookSender;
  /** With `metrics.enabled`: the registry, and where a scrape reads it (the cluster's aggregate in a worker). */
  metrics: ServerMetrics | null;
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

/** Builds the whole application on an opened store: the magic-link plugin on our provider, plus the server's own parts. */
export async function buildApplication(options: BuildOptions): Promise<Application> {
  const { config, issuer } = options;
  const metrics = serverMetrics(config);
  // Every store call of the provider, the plugin and the API goes through the one store: timed there.
  const store = metrics ? metrics.observe(options.store) : options.store;
  const events = new Events({ webhooks: config.webhooks, store, settings: config.events });
  const webhooks = new WebhookSender(store.webhookDeliveries, config.webhooks, config.events);
  events.onWritten = () => webhooks.kick();
  // Observations the pages and limiters log (a link opened elsewhere, a limit hit) become events too.
  const untapEvents = config.webhooks.length > 0 ? tapEvents((event, fields) => events.observe(event, fields)) : () => undefined;
  const keys = await loadKeys(config);
  // The theme's locales/ folder is read after ours: its keys win and its new files add locales.
  const catalog = new Catalog([path.join(projectRoot, 'locales'), ...(config.theme ? [path.join(path.resolve(config.theme), 'locales')] : [])], config.mail.defaultLocale);
  const views = new Views(path.join(projectRoot, 'views'), config.theme, catalog);
  const transport = options.transport ?? createTransport(config);
  const twoFactor = new TwoFactorService(store, new SecretBox(keys.secretKey), {
    issuerName: config.twoFactor.issuerName,
    trustTimeToLiveInSeconds: config.twoFactor.trustTimeToLiveInSeconds,
    wrongCodesPerAccount: config.rateLimits.enabled ? config.twoFactor.wrongCodesPerAccount : null,
  });
  // The hosted sign-in is the plugin, through the same doors a host uses.
  const magic = magicLink(magicLinkOptions({ config, store, keys, transport, twoFactor, events }));
  const interactions = magic.interactions();
  interactions.policy.get('login')!.checks.add(apiLinkSessionCheck());
  const provider = buildProvider({ config, issuer, store, keys, views, interactions });
  magic.mount(provider);
  await assertClientsValid(provider, config);
  // After every start-up check, so a refused start writes nothing into a lasting store.
  await applyUserSeed(store.users, config.users);

  // The REST API's own sender and codes: the same store, so its codes and the hosted ones are one set.
  const mail = new MailDelivery(transport, config.mail.retry);
  const codes = new PasswordlessCodes(store.codes, store.counters, {
    timeToLiveInSeconds: config.passwordless.timeToLiveInSeconds,
    linkCode: config.passwordless.linkCode,
    shortCode: config.passwordless.shortCode,
    maxAttempts: config.passwordless.maxAttempts,
    retainSeconds: config.ttl.Interaction ?? 3600,
  });
  const mailer = new DirectLinkMailer({ issuer, delivery: mail, views });
  const csrf = new CsrfTokens(keys.cookieKeys);
  const base = issuerPath(issuer);

  const koa = new Koa();
  trustForwardedFor(koa, config);
  answerAsIssuer(koa, issuer);
  koa.keys = [...keys.cookieKeys];
  koa.silent = true;

  const limiter = new RateLimiter(store.counters, config.rateLimits);
  const ours = new Router();
  if (transport instanceof DevMailbox && !config.production) {
    const dev = devMailboxRoutes(transport, views);
    ours.use(dev.routes(), dev.allowedMethods());
  }
  if (demoEnabled(config)) {
    const demo = demoRoutes({ issuer, base, secret: demoClientSecret(keys.cookieKeys), views });
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
  ours.get('/', (ctx) => ctx.redirect(demoEnabled(config) ? `${base}/demo` : `${base}/.well-known/openid-configuration`));

  koa.use(async (ctx, next) => {
    useBase(ctx, base);
    return next();
  });
  koa.use(errorHandler(views));
  const secondFactor = new ApiSecondFactor(store.twoFactorLogins, twoFactor, {
    twoFactorIdTimeToLiveInSeconds: config.twoFactor.twoFactorIdTimeToLiveInSeconds,
    maxAttempts: config.twoFactor.maxAttempts,
  });
  const api = restApi({ config, issuer, provider, store, codes, keys, views, mailer, limiter, csrf, secondFactor, events });
  koa.use(api.router.routes());
  koa.use(api.fallback);
  // Before the plugin's pages (inside the provider): the emailed API link takes over the login page of the interaction it started.
  koa.use(api.links.routes());
  // The API link's form address opened with another method: its page here; every other /interaction address is the plugin's.
  koa.use(interactionFallback({ provider, views, routers: [api.links], onlyTheirPaths: true }));
  koa.use(ours.routes());
  koa.use(ours.allowedMethods());
  // Everything else is node-oidc-provider's, with the plugin mounted on it (no body parser in front of it).
  const providerCallback = provider.callback();
  koa.use((ctx) => {
    ctx.respond = false;
    return providerCallback(ctx.req, ctx.res);
  });
  const routers = [ours, api.router, api.links];
  const handler = httpHandler({
    base,
    segments: providerSegments(provider),
    headers: securityHeaderList({ https: issuer.startsWith('https:') }),
    provider: providerCallback,
    app: koa.callback(),
    metrics: metrics?.forRequests(provider, routers) ?? null,
  });

  webhooks.start();
  return {
    koa,
    handler,
    provider,
    config,
    issuer,
    store,
    transport,
    mail: combinedStats(magic, mail),
    mailer,
    outbox: { drain: () => magic.settled() },
    codes,
    keys,
    api,
    routers,
    metrics,
    events,
    webhooks,
    async close() {
      metrics?.close();
      untapEvents();
      await webhooks.stop();
      await magic.close();
      await mail.close();
      await store.close();
    },
  };
}

/** Counts of both senders (the hosted pages' and the API's), for /health pages and tests. */
function combinedStats(magic: MagicLink, api: MailDelivery): { readonly stats: MailStats } {
  return {
    get stats() {
      const hosted = magic.mailStats;
      return {
        sent: hosted.sent + api.stats.sent,
        retried: hosted.retried + api.stats.retried,
        failedTransient: hosted.failedTransient + api.stats.failedTransient,
        failedPermanent: hosted.failedPermanent + api.stats.failedPermanent,
      };
    },
  };
}
