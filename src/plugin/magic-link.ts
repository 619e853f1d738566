import { derivedOnce } from '../memo.js';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import compose from 'koa-compose';
import type { Context, Middleware } from 'koa';
import type Router from '@koa/router';
import Provider, { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import { projectRoot } from '../config/load.js';
import { Catalog } from '../i18n/catalog.js';
import { Views } from '../render/views.js';
import { MailDelivery, type MailStats } from '../mail/delivery.js';
import { Outbox } from '../mail/outbox.js';
import { MemoryCodes, MemoryCounters } from '../storage/memory.js';
import { PasswordlessCodes } from '../passwordless/codes.js';
import { MagicLinkMailer, type ClientPolicy } from '../passwordless/magic-link.js';
import { RateLimiter } from '../passwordless/rate-limits.js';
import { CrossDeviceApprovals } from '../passwordless/approval.js';
import type { AccountDirectory, Recipient } from '../passwordless/accounts.js';
import type { SignUpInput } from '../passwordless/sign-up.js';
import { CsrfTokens } from '../http/csrf.js';
import { errorHandler } from '../http/error-handler.js';
import { staticAssets } from '../http/static.js';
import { securityHeaderList } from '../http/security-headers.js';
import { useBase } from '../http/page.js';
import { log } from '../log.js';
import { issuerPath } from '../http/issuer-origin.js';
import { interactionRoutes } from '../interaction/routes.js';
import { twoFactorRoutes } from '../interaction/two-factor.js';
import { interactionFallback } from '../interaction/fallback.js';
import { SecondFactorTries, twoFactorPrompt, voidedLoginCheck, type SecondFactorCheck } from '../provider/two-factor-prompt.js';
import { DEFAULTS, validateOptions, type MagicLinkAccount, type MagicLinkClient, type MagicLinkOptions, type MagicLinkStore } from './options.js';
import { transportOf } from './mail.js';
import { secondFactorCheck } from './second-factor.js';

type Policy = ReturnType<typeof interactionPolicy.base>;
type Interaction = { uid: string };

/** What a host's own login page needs to offer "Email me a sign-in link". */
export interface SignInForm {
  /** The form's action (POST), e.g. `/oidc/interaction/<uid>/email`. */
  action: string;
  method: 'post';
  /** The name of the email input. */
  emailField: 'email';
  /** Hidden fields to put in the form, as they are (a CSRF token bound to this sign-in). */
  fields: Record<string, string>;
  /** Our own "enter your email" page for this sign-in: send the browser there instead of rendering a form. */
  pageUrl: string;
}

/** The magic-link plugin for one node-oidc-provider instance (see {@link magicLink}). */
export interface MagicLink {
  /**
   * `configuration.interactions` for the provider: our policy (see {@link policy}) and the
   * interaction URL `<mount path>/interaction/<uid>`, under which every page and link of ours lives.
   */
  interactions(): { policy: Policy; url: (ctx: KoaContextWithOIDC, interaction: Interaction) => string };
  /**
   * Adds our checks to an interaction policy (default: node-oidc-provider's `base()`): a session
   * whose account no longer resolves signs in again; with `secondFactor`, the `two_factor` prompt
   * after `login`. The `login` prompt is answered by the magic link.
   */
  policy(base?: Policy): Policy;
  /** Installs our pages, link routes and assets on the provider (its Koa app). Once per provider. */
  mount(provider: Provider): void;
  /** The form (or page URL) a host's own login page uses to offer the magic link for sign-in `uid`. Call after `mount`. */
  signInForm(uid: string): SignInForm;
  /** Counts of mail handed over, retried and failed since start (for metrics). */
  readonly mailStats: Readonly<MailStats>;
  /** Resolves once every email queued so far has been handed over or given up. */
  settled(): Promise<void>;
  /** Waits for queued mail, then closes the transport it opened (never one the host passed). */
  close(): Promise<void>;
}

/**
 * Magic-link sign-in for your node-oidc-provider: give it your accounts and a way to send mail,
 * put `interactions()` in the provider's configuration and call `mount(provider)`.
 * Throws {@link MagicLinkOptionsError} naming the first bad option.
 */
export function magicLink(options: MagicLinkOptions): MagicLink {
  const valid = validateOptions(options);
  return new MagicLinkPlugin(valid);
}

/**
 * Where the provider is mounted, as node-oidc-provider works it out for its own URLs: the part of
 * the original URL before the provider's own path (Express), koa-mount's `mountPath`, or ''.
 */
export function mountPathOf(ctx: Context): string {
  const req = ctx.req as IncomingMessage & { originalUrl?: string; baseUrl?: string };
  const original = req.originalUrl;
  const own = original ? original.indexOf(ctx.url) : -1;
  const fromOriginal = original && own > 0 ? original.slice(0, own) : '';
  const mounted = fromOriginal || (ctx as Context & { mountPath?: string }).mountPath || req.baseUrl || '';
  return mounted === '/' ? '' : mounted.replace(/\/$/, '');
}

/** The client as the host's callbacks see it; once per policy object, which is once per client (see clientOf). */
const clientOfPolicy = derivedOnce((client: ClientPolicy): MagicLinkClient => Object.freeze({ clientId: client.clientId, name: client.name, metadata: client.metadata ?? {} }));

function recipientOfAccount(account: MagicLinkAccount): Recipient {
  return {
    id: account.accountId,
    email: account.email,
    ...(account.firstName ? { firstName: account.firstName } : {}),
    ...(account.lastName ? { lastName: account.lastName } : {}),
    preferredLanguages: account.locales ?? [],
    ...(account.timezone ? { timezone: account.timezone } : {}),
  };
}

/** The host's account callbacks as the sign-in uses them. */
function hostAccounts(options: MagicLinkOptions): AccountDirectory {
  const byEmail = async (email: string, client: ClientPolicy) => {
    const account = await options.findAccountByEmail(email, { client: clientOfPolicy(client) });
    return account ? recipientOfAccount(account) : null;
  };
  return {
    recipientFor: byEmail,
    async signInAccount(accountId, client) {
      if (!options.findAccountById) return { id: accountId, email: '', preferredLanguages: [] };
      const account = await options.findAccountById(accountId, { client: clientOfPolicy(client) });
      return account && account.accountId === accountId ? recipientOfAccount(account) : null;
    },
    async recordSignIn(accountId, client, method) {
      await options.onSignIn?.({ accountId }, { client: clientOfPolicy(client), method });
    },
    ...(options.createAccount
      ? {
          async createAccount(input: SignUpInput, client: ClientPolicy) {
            return recipientOfAccount(await options.createAccount!(input, { client: clientOfPolicy(client) }));
          },
        }
      : {}),
  };
}

/** The route paths (`/interaction/:uid/magic/:code`) of the pages mounted on each provider, as their routers name them. */
const mountedRoutePaths = new WeakMap<Provider, readonly string[]>();

/** The route templates of the pages and assets `mount()` installed on `provider` (none before): the metrics label requests by them. */
export function mountedRouteTemplates(provider: Provider): readonly string[] {
  return mountedRoutePaths.get(provider) ?? [];
}

/** Paths of ours inside the provider: everything under /interaction, and our assets. */
function isOurPath(path: string): boolean {
  return path === '/interaction' || path.startsWith('/interaction/') || path.startsWith('/static/');
}

class MagicLinkPlugin implements MagicLink {
  readonly #options: MagicLinkOptions;
  readonly #store: MagicLinkStore;
  readonly #views: Views;
  readonly #delivery: MailDelivery;
  readonly #outbox = new Outbox();
  readonly #codes: PasswordlessCodes;
  readonly #tries: SecondFactorTries;
  readonly #secondFactor: SecondFactorCheck | null;
  #mounted: { provider: Provider; csrf: CsrfTokens; base: string } | null = null;

  constructor(options: MagicLinkOptions) {
    this.#options = options;
    this.#store = options.store ?? { codes: new MemoryCodes(), counters: new MemoryCounters() };
    const theme = options.theme ? path.resolve(options.theme) : null;
    const catalog = new Catalog([path.join(projectRoot, 'locales'), ...(theme ? [path.join(theme, 'locales')] : [])], options.defaultLocale ?? DEFAULTS.defaultLocale);
    this.#views = new Views(path.join(projectRoot, 'views'), theme, catalog);
    this.#delivery = new MailDelivery(transportOf(options.mail), { ...DEFAULTS.mailRetry, ...options.mail.retry });
    this.#codes = new PasswordlessCodes(this.#store.codes, this.#store.counters, {
      timeToLiveInSeconds: options.timeToLiveInSeconds ?? DEFAULTS.timeToLiveInSeconds,
      linkCode: { generator: 'randomBytes', length: options.linkCodeBytes ?? DEFAULTS.linkCodeBytes },
      shortCode: options.shortCode ?? DEFAULTS.shortCode,
      maxAttempts: options.maxAttempts ?? DEFAULTS.maxAttempts,
      retainSeconds: options.interactionTimeToLiveInSeconds ?? DEFAULTS.interactionTimeToLiveInSeconds,
    });
    this.#tries = new SecondFactorTries(this.#store.counters, options.secondFactorMaxAttempts ?? DEFAULTS.secondFactorMaxAttempts);
    this.#secondFactor = options.secondFactor
      ? secondFactorCheck(options.secondFactor, this.#store.counters, options.trustTimeToLiveInSeconds ?? DEFAULTS.trustTimeToLiveInSeconds)
      : null;
  }

  get mailStats(): Readonly<MailStats> {
    return this.#delivery.stats;
  }

  interactions() {
    return {
      policy: this.policy(),
      url: (ctx: KoaContextWithOIDC, interaction: Interaction) => `${mountPathOf(ctx as unknown as Context)}/interaction/${interaction.uid}`,
    };
  }

  policy(base: Policy = interactionPolicy.base()): Policy {
    const login = base.get('login');
    if (!login) throw new TypeError('oidc-magic-link: the interaction policy has no login prompt for the magic link to answer');
    // A session whose account cannot sign in any more (findAccount answers none) must sign in
    // again; without this node-oidc-provider goes on with no account and fails with a 500.
    login.checks.add(
      new interactionPolicy.Check('account_unavailable', 'the signed-in account cannot sign in to this client', 'login_required', (ctx) =>
        Boolean(ctx.oidc.session?.accountId) && !ctx.oidc.account,
      ),
    );
    if (this.#secondFactor) {
      // A login whose second-factor step is void (too many wrong codes, declined) needs a new magic link.
      login.checks.add(voidedLoginCheck(this.#tries));
      base.add(twoFactorPrompt(this.#secondFactor), base.indexOf(login) + 1);
    }
    return base;
  }

  mount(provider: Provider): void {
    if (this.#mounted) throw new Error('oidc-magic-link: mount() was called already; one magicLink() serves one provider');
    const keys = this.#options.keys ?? (provider.keys as string[] | undefined) ?? [randomBytes(32).toString('base64url')];
    const csrf = new CsrfTokens(keys);
    this.#mounted = { provider, csrf, base: issuerPath(provider.issuer) };
    provider.use(this.#middleware(provider, csrf));
    // Said once, so a host that meant to have one finds out at start, not from its users.
    if (!this.#secondFactor) log.info('magic_link.second_factor_off', { note: 'no secondFactor option: a sign-in ends with the magic link' });
  }

  signInForm(uid: string): SignInForm {
    if (!this.#mounted) throw new Error('oidc-magic-link: signInForm() needs mount(provider) first');
    const { csrf, base } = this.#mounted;
    const page = `${base}/interaction/${encodeURIComponent(uid)}`;
    return { action: `${page}/email`, method: 'post', emailField: 'email', fields: { csrf: csrf.issue('email', uid) }, pageUrl: `${page}/by-email` };
  }

  async settled(): Promise<void> {
    await this.#outbox.drain();
  }

  async close(): Promise<void> {
    await this.#outbox.drain();
    await this.#delivery.close();
  }

  #middleware(provider: Provider, csrf: CsrfTokens): Middleware {
    const views = this.#views;
    const options = this.#options;
    const limiter = new RateLimiter(this.#store.counters, {
      ...DEFAULTS.rateLimits,
      ...options.rateLimits,
    } as ConstructorParameters<typeof RateLimiter>[1]);
    const accounts = hostAccounts(options);
    const mailer = new MagicLinkMailer({ issuer: provider.issuer, accounts, codes: this.#codes, delivery: this.#delivery, outbox: this.#outbox, views });
    const routers: Router[] = [];
    if (this.#secondFactor) {
      routers.push(
        twoFactorRoutes({
          provider,
          views,
          csrf,
          service: this.#secondFactor,
          tries: this.#tries,
          interactionTtlSeconds: options.interactionTimeToLiveInSeconds ?? DEFAULTS.interactionTimeToLiveInSeconds,
        }),
      );
    }
    routers.push(
      interactionRoutes({
        provider,
        views,
        accounts,
        codes: this.#codes,
        mailer,
        csrf,
        approvals: new CrossDeviceApprovals(this.#store.codes),
        limiter,
      }),
    );
    mountedRoutePaths.set(provider, [...routers.flatMap((router) => router.stack.map((layer) => layer.path).filter((p): p is string => typeof p === 'string')), '/static/:file']);
    const theme = options.theme ? [path.join(path.resolve(options.theme), 'static')] : [];
    const headers = securityHeaderList({ https: provider.issuer.startsWith('https:') });
    const ours = compose([
      errorHandler(views),
      staticAssets([...theme, path.join(projectRoot, 'views/static')]),
      ...routers.flatMap((router) => [router.routes() as unknown as Middleware, router.allowedMethods() as unknown as Middleware]),
      interactionFallback({ provider, views, routers }),
    ]);
    return async (ctx, next) => {
      if (!isOurPath(ctx.path)) return next();
      useBase(ctx, mountPathOf(ctx));
      for (const [name, value] of headers) ctx.set(name, value);
      return ours(ctx, next);
    };
  }
}
