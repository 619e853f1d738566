/**
 * What one user does, for the same authorization-code flow on ours and on bare. A flow
 * returns its refresh token; any step that is not what a browser expects throws a short
 * reason that the report counts.
 */
import { createHash, randomBytes } from 'node:crypto';
import { browse, Jar, type Reply, type Target } from './http.js';
import type { SmtpSink } from './smtp-sink.js';
import type { BenchClient } from '../protocol.js';

export class FlowError extends Error {}

function expectStatus(reply: Reply, allowed: number[], step: string): void {
  if (!allowed.includes(reply.status)) throw new FlowError(`${step}: HTTP ${reply.status}`);
}

function location(reply: Reply, step: string): string {
  const value = reply.headers.location;
  if (typeof value !== 'string') throw new FlowError(`${step}: no redirect (HTTP ${reply.status})`);
  return value;
}

const base64url = (buffer: Buffer) => buffer.toString('base64url');

export interface FlowContext {
  target: Target;
  client: BenchClient;
  sink: SmtpSink | null;
  mailTimeoutMs: number;
  /** Ours: the email form carries a CSRF token and "check your inbox" a typed-code form (the floor has neither). */
  full?: boolean;
  /** Called after each step with its name (the --steps section reads the server's CPU there). */
  mark?: (step: string) => Promise<void>;
}

async function mark(ctx: FlowContext, step: string): Promise<void> {
  if (ctx.mark) await ctx.mark(step);
}

/** GET /auth with PKCE; returns the jar, the verifier and the interaction path. */
async function authorize(ctx: FlowContext, jar: Jar) {
  const verifier = base64url(randomBytes(32));
  const state = base64url(randomBytes(16));
  const params = new URLSearchParams({
    client_id: ctx.client.client_id,
    redirect_uri: ctx.client.redirect_uris[0] ?? '',
    response_type: 'code',
    scope: 'openid email profile',
    code_challenge: base64url(createHash('sha256').update(verifier).digest()),
    code_challenge_method: 'S256',
    state,
    nonce: base64url(randomBytes(16)),
  });
  const reply = await browse(ctx.target, jar, 'GET', `/auth?${params}`);
  await mark(ctx, 'GET /auth');
  const interaction = location(reply, 'authorize');
  const uid = /\/interaction\/([\w-]+)/.exec(interaction)?.[1];
  if (!uid) throw new FlowError('authorize: not sent to an interaction');
  return { verifier, state, uid, interaction };
}

/** Follows the resume redirect to the client's callback and exchanges the code. */
async function resumeAndExchange(ctx: FlowContext, jar: Jar, resume: string, verifier: string, state: string): Promise<string> {
  const reply = await browse(ctx.target, jar, 'GET', resume);
  await mark(ctx, 'GET /auth/:uid (resume)');
  const callback = new URL(location(reply, 'resume'), ctx.target.origin);
  if (!callback.href.startsWith(ctx.client.redirect_uris[0] ?? '-')) throw new FlowError(`resume: landed on ${callback.pathname}`);
  const code = callback.searchParams.get('code');
  if (!code) throw new FlowError(`resume: ${callback.searchParams.get('error') ?? 'no code'}`);
  if (callback.searchParams.get('state') !== state) throw new FlowError('resume: state mismatch');
  return exchangeCode(ctx, code, verifier);
}

function basicAuth(client: BenchClient): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`).toString('base64')}`;
}

async function tokenRequest(ctx: FlowContext, form: Record<string, string>, step: string): Promise<{ refresh_token?: string; id_token?: string }> {
  const reply = await ctx.target.request(
    'POST',
    '/token',
    { authorization: basicAuth(ctx.client), 'content-type': 'application/x-www-form-urlencoded' },
    new URLSearchParams(form).toString(),
  );
  expectStatus(reply, [200], step);
  return JSON.parse(reply.body) as { refresh_token?: string; id_token?: string };
}

async function exchangeCode(ctx: FlowContext, code: string, verifier: string): Promise<string> {
  const tokens = await tokenRequest(
    ctx,
    { grant_type: 'authorization_code', code, redirect_uri: ctx.client.redirect_uris[0] ?? '', code_verifier: verifier },
    'token',
  );
  await mark(ctx, 'POST /token (code)');
  if (!tokens.id_token) throw new FlowError('token: no id_token');
  return tokens.refresh_token ?? '';
}

/** Ours and the floor: email form → check-inbox page → the emailed link → callback → token. */
export async function magicLinkFlow(ctx: FlowContext, email: string): Promise<string> {
  const jar = new Jar();
  const { verifier, state, uid, interaction } = await authorize(ctx, jar);
  const form = await browse(ctx.target, jar, 'GET', interaction);
  await mark(ctx, 'GET /interaction/:uid (form)');
  expectStatus(form, [200], 'email form');
  const csrf = /action="\/interaction\/[\w-]+\/email"[\s\S]*?name="csrf" value="([^"]+)"/.exec(form.body)?.[1];
  if (!csrf && ctx.full) throw new FlowError('email form: no csrf field');
  const mail = ctx.sink!.waitFor(uid, ctx.mailTimeoutMs);
  const inbox = await browse(ctx.target, jar, 'POST', `/interaction/${uid}/email`, { ...(csrf ? { csrf } : {}), email });
  if (inbox.status !== 200 || (ctx.full && !inbox.body.includes(`/interaction/${uid}/code`))) {
    ctx.sink!.cancel(uid);
    throw new FlowError(`check inbox: HTTP ${inbox.status}`);
  }
  const link = await mail;
  // The email is sent after the response, so the page and the mail are one step.
  await mark(ctx, 'POST email + mail over SMTP');
  if (!link) throw new FlowError('mail: no email within timeout');
  const opened = await browse(ctx.target, jar, 'GET', link);
  await mark(ctx, 'GET magic link');
  return resumeAndExchange(ctx, jar, location(opened, 'magic link'), verifier, state);
}

/** Bare: a trivial login form → callback → token. */
export async function bareFlow(ctx: FlowContext, email: string): Promise<string> {
  const jar = new Jar();
  const { verifier, state, uid, interaction } = await authorize(ctx, jar);
  const form = await browse(ctx.target, jar, 'GET', interaction);
  await mark(ctx, 'GET /interaction/:uid (form)');
  expectStatus(form, [200], 'login form');
  const login = await browse(ctx.target, jar, 'POST', `/interaction/${uid}/login`, { email });
  await mark(ctx, 'POST login');
  return resumeAndExchange(ctx, jar, location(login, 'login'), verifier, state);
}

/** One refresh grant; returns the rotated refresh token. */
export async function refreshGrant(ctx: FlowContext, refreshToken: string): Promise<string> {
  const tokens = await tokenRequest(ctx, { grant_type: 'refresh_token', refresh_token: refreshToken }, 'refresh');
  if (!tokens.refresh_token) throw new FlowError('refresh: no rotated refresh_token');
  return tokens.refresh_token;
}

export type ApiOutcome = { kind: 'ok'; startMs: number; loginMs: number } | { kind: 'unavailable'; status: number };

/** The REST pair: start (API key) then login with the code; over HTTP, or injected in-process (bench/inproc.ts). */
export async function apiPair(target: Pick<Target, 'request'>, apiKey: string, applicationId: string, email: string, noJWT: boolean): Promise<ApiOutcome> {
  const t0 = performance.now();
  const start = await target.request(
    'POST',
    '/api/passwordless/start',
    { authorization: apiKey, 'content-type': 'application/json' },
    JSON.stringify({ applicationId, loginId: email }),
  );
  // Every bench user exists, so a 404 here means the endpoint does not (API not merged yet).
  if (start.status === 404) return { kind: 'unavailable', status: 404 };
  expectStatus(start, [200], 'api start');
  const code = (JSON.parse(start.body) as { code?: string }).code;
  if (!code) throw new FlowError('api start: no code');
  const t1 = performance.now();
  const login = await target.request('POST', '/api/passwordless/login', { 'content-type': 'application/json' }, JSON.stringify({ code, applicationId, ...(noJWT ? { noJWT: true } : {}) }));
  expectStatus(login, [200, 202], 'api login');
  if (!noJWT && !(JSON.parse(login.body) as { token?: string }).token) throw new FlowError('api login: no token');
  return { kind: 'ok', startMs: t1 - t0, loginMs: performance.now() - t1 };
}
