import { derivedOnce } from '../memo.js';
import type { Context } from 'koa';
import { errors, type default as Provider, type InteractionResults } from 'oidc-provider';
import { clientPolicy } from '../provider/clients.js';
import type { ClientPolicy } from '../passwordless/magic-link.js';
import { log } from '../log.js';

export type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

/**
 * The sign-in this browser is in, if the request carries its interaction cookie and the
 * cookie belongs to the uid in the path; null otherwise (other browser, scanner, expired).
 */
export async function interactionOfBrowser(provider: Provider, ctx: Context, uid: string): Promise<Interaction | null> {
  // Several routers look at the same request (second factor, API link, sign-in pages): load it once.
  const memo = ctx.state as { interactionOfBrowser?: Promise<Interaction | null> };
  memo.interactionOfBrowser ??= loadInteraction(provider, ctx);
  const interaction = await memo.interactionOfBrowser;
  return interaction && interaction.uid === uid ? interaction : null;
}

async function loadInteraction(provider: Provider, ctx: Context): Promise<Interaction | null> {
  try {
    return await provider.interactionDetails(ctx.req, ctx.res);
  } catch (err) {
    if (err instanceof errors.SessionNotFound) return null;
    throw err;
  }
}

/** Whether a sign-in request is still alive, without needing its cookie. */
export async function interactionById(provider: Provider, uid: string): Promise<Interaction | null> {
  if (!/^[\w-]{1,64}$/.test(uid)) return null;
  return (await provider.Interaction.find(uid)) ?? null;
}

/**
 * The id (cookie value) of the browser session an interaction started from, when it had a
 * signed-in account; node-oidc-provider renews it at every new login.
 */
export function loginSessionId(interaction: Interaction): string | null {
  return interaction.session?.accountId && interaction.session.cookie ? interaction.session.cookie : null;
}

/** When a browser session ends (ms), or null when it is gone. */
export async function sessionEndsAt(provider: Provider, sessionId: string): Promise<number | null> {
  const session = await provider.Session.find(sessionId);
  return typeof session?.exp === 'number' ? session.exp * 1000 : null;
}

/**
 * A client's sign-in rules and metadata, once per Client object: node-oidc-provider's
 * `metadata()` builds a new snake_cased copy on every call, and every step asks. Frozen, as it is
 * shared by every request for the client.
 */
const policyOfClient = derivedOnce((client: InstanceType<Provider['Client']>): Readonly<ClientPolicy> =>
  Object.freeze({ ...clientPolicy(client as unknown as Parameters<typeof clientPolicy>[0]), metadata: Object.freeze(client.metadata()) }),
);

/** The client a sign-in is for, with our sign-in rules. */
export async function clientOf(provider: Provider, interaction: Interaction): Promise<Readonly<ClientPolicy> | null> {
  const clientId = interaction.params.client_id;
  if (typeof clientId !== 'string') return null;
  const client = await provider.Client.find(clientId);
  return client ? policyOfClient(client) : null;
}

/**
 * Signs an account in to a client at the end of a magic-link step: records the login (through
 * `recordLogin`), logs it and hands node-oidc-provider the result. The caller has checked that the
 * account may use the client.
 */
export async function signInWithEmail(
  provider: Provider,
  ctx: Context,
  login: { accountId: string; clientId: string; method: string; amr?: string[] },
  recordLogin: () => Promise<unknown>,
): Promise<void> {
  await recordLogin();
  log.info('login.success', { user: login.accountId, client: login.clientId, method: login.method });
  await finishInteraction(provider, ctx, { login: { accountId: login.accountId, amr: login.amr ?? ['email'] } });
}

/** Hands a result back to node-oidc-provider and sends the browser on to the authorization endpoint. */
export async function finishInteraction(provider: Provider, ctx: Context, result: InteractionResults, merge = false): Promise<void> {
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: merge });
  ctx.redirect(returnTo);
  ctx.status = 303;
}
