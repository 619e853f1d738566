import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { DuplicateKeyError, normalizeEmail, normalizeUsername, type UserRecord, type UserRepository } from '../storage/types.js';
import { createUser, deleteUser, registerUser, replacementOf, updateUser } from '../accounts/admin.js';
import { registrationFor } from '../accounts/users.js';
import type { ApplicationDirectory } from '../passwordless/api-login.js';
import { log } from '../log.js';
import { answerEmpty } from './respond.js';
import { fieldError, parseInput } from './validation.js';
import { createUserRequest, patchUserRequest, registerNewUserRequest, registerRequest, replaceUserRequest, userIdParam, userQuery } from './schemas.js';
import { registrationJson, userJson } from './user-json.js';
import type { EventInput, EventType, Events } from '../events/events.js';

export interface UserRouteDeps {
  /** The users, and what locking or deleting one clears besides the user. */
  store: Parameters<typeof deleteUser>[0];
  applications: ApplicationDirectory;
  requireKey: Middleware;
  body: Middleware;
  /** Told of every change, before the answer (webhooks). */
  events: Events;
}

function notFound(ctx: Context): void {
  answerEmpty(ctx, 404);
}

/** The :userId of the path, or null when it cannot be a user id (which then simply is not found). */
function userIdOf(ctx: Context): string | null {
  const parsed = userIdParam.safeParse((ctx.params as Record<string, string>).userId);
  return parsed.success ? parsed.data : null;
}

/** A store duplicate as FusionAuth's field error. */
function asDuplicate(err: unknown): never {
  if (err instanceof DuplicateKeyError && err.field === 'email') throw fieldError('user.email', 'duplicate', 'A user with this email already exists.');
  if (err instanceof DuplicateKeyError && err.field === 'username') throw fieldError('user.username', 'duplicate', 'A user with this username already exists.');
  if (err instanceof DuplicateKeyError && err.field === 'id') throw fieldError('userId', 'duplicate', 'A user with this id already exists.');
  throw err;
}

/**
 * A password is refused, not dropped: an integration that sends one believes the user can sign in
 * with it, and a 200 would hide that no password exists here. Checked before anything is written.
 */
function refusePassword(body: unknown): void {
  const user = (body as { user?: unknown } | undefined)?.user;
  if (user !== null && typeof user === 'object' && (user as Record<string, unknown>).password != null) {
    throw fieldError('user.password', 'invalid', 'This server has no passwords: users sign in with a magic link. Leave password out.');
  }
}

/** The user a GET /api/user query names: by email, by username, or by loginId (an email, else a username). */
async function findByQuery(users: UserRepository, query: { email?: string | undefined; loginId?: string | undefined; username?: string | undefined }): Promise<UserRecord | null> {
  if (query.email !== undefined) return users.findByEmail(normalizeEmail(query.email));
  if (query.username !== undefined) return users.findByUsername(normalizeUsername(query.username));
  const loginId = query.loginId ?? '';
  return (await users.findByEmail(normalizeEmail(loginId))) ?? users.findByUsername(normalizeUsername(loginId));
}

/** The user API: create, read, replace, change (lock/unlock), delete, register. All calls need an API key. */
export function userRoutes(router: Router, deps: UserRouteDeps): void {
  const { applications } = deps;
  const { users } = deps.store;
  const guard = [deps.requireKey, deps.body];

  /** The events of one change, written before the answer: who asked from where is in `info`. */
  async function emit(ctx: Context, types: EventType[], input: EventInput): Promise<void> {
    for (const type of types) await deps.events.emit(type, { ...input, info: { ipAddress: ctx.ip, userAgent: ctx.get('user-agent') } });
  }

  async function requireApplication(id: string, field: string): Promise<void> {
    if (!(await applications.find(id))) throw fieldError(field, 'invalid', `No application has the id ${JSON.stringify(id)}.`);
  }

  async function create(ctx: Context, id: string | undefined): Promise<void> {
    refusePassword(ctx.request.body);
    const input = parseInput(createUserRequest, ctx.request.body);
    if (input.registration) await requireApplication(input.registration.applicationId, 'registration.applicationId');
    const user = await createUser(users, { ...input.user, ...(id ? { id } : {}), ...(input.registration ? { registrations: [input.registration] } : {}) }).catch(asDuplicate);
    log.info('api.user_created', { user: user.id });
    await emit(ctx, input.registration ? ['user.create', 'user.registration.create'] : ['user.create'], { user, applicationId: input.registration?.applicationId ?? null });
    ctx.body = { user: userJson(user) };
  }

  router.post('/user', ...guard, (ctx) => create(ctx, undefined));

  router.post('/user/registration', ...guard, async (ctx) => {
    refusePassword(ctx.request.body);
    const input = parseInput(registerNewUserRequest, ctx.request.body);
    await requireApplication(input.registration.applicationId, 'registration.applicationId');
    const user = await createUser(users, { ...input.user, registrations: [input.registration] }).catch(asDuplicate);
    log.info('api.user_created', { user: user.id, client: input.registration.applicationId });
    await emit(ctx, ['user.create', 'user.registration.create'], { user, applicationId: input.registration.applicationId });
    ctx.body = { user: userJson(user), registration: registrationJson(user.registrations[0]!) };
  });

  router.post('/user/registration/:userId', ...guard, async (ctx) => {
    const id = userIdOf(ctx);
    const input = parseInput(registerRequest, ctx.request.body);
    await requireApplication(input.registration.applicationId, 'registration.applicationId');
    const result = id ? await registerUser(users, id, input.registration) : ({ ok: false, problem: 'no_user' } as const);
    if (!result.ok && result.problem === 'no_user') return notFound(ctx);
    if (!result.ok) throw fieldError('registration.applicationId', 'duplicate', 'The user is already registered to this application.');
    log.info('api.user_registered', { user: result.user.id, client: result.registration.applicationId });
    await emit(ctx, ['user.registration.create'], { user: result.user, applicationId: result.registration.applicationId });
    ctx.body = { user: userJson(result.user), registration: registrationJson(result.registration) };
  });

  /** FusionAuth's registration read: the user's registration for one application, 404 when either is unknown. */
  router.get('/user/registration/:userId/:applicationId', deps.requireKey, async (ctx) => {
    const id = userIdOf(ctx);
    const user = id ? await users.findById(id) : null;
    const registration = user ? registrationFor(user, (ctx.params as Record<string, string>).applicationId ?? '') : undefined;
    if (!registration) return notFound(ctx);
    ctx.body = { registration: registrationJson(registration) };
  });

  router.post('/user/:userId', ...guard, async (ctx) => {
    const id = userIdOf(ctx);
    if (!id) throw fieldError('userId', 'couldNotConvert', 'A user id is a UUID.');
    await create(ctx, id);
  });

  router.get('/user', deps.requireKey, async (ctx) => {
    const query = parseInput(userQuery, ctx.query);
    const user = await findByQuery(users, query);
    if (!user) return notFound(ctx);
    ctx.body = { user: userJson(user) };
  });

  router.get('/user/:userId', deps.requireKey, async (ctx) => {
    const id = userIdOf(ctx);
    const user = id ? await users.findById(id) : null;
    if (!user) return notFound(ctx);
    ctx.body = { user: userJson(user) };
  });

  router.put('/user/:userId', ...guard, async (ctx) => {
    const id = userIdOf(ctx);
    if (ctx.query.reactivate === 'true') return reactivate(ctx, id);
    refusePassword(ctx.request.body);
    const input = parseInput(replaceUserRequest, ctx.request.body);
    const user = id ? await updateUser(deps.store, id, replacementOf(input.user)).catch(asDuplicate) : null;
    if (!user) return notFound(ctx);
    log.info('api.user_updated', { user: user.id, replaced: true });
    await emit(ctx, ['user.update'], { user });
    ctx.body = { user: userJson(user) };
  });

  router.patch('/user/:userId', ...guard, async (ctx) => {
    const id = userIdOf(ctx);
    refusePassword(ctx.request.body);
    const input = parseInput(patchUserRequest, ctx.request.body);
    const user = id ? await updateUser(deps.store, id, input.user).catch(asDuplicate) : null;
    if (!user) return notFound(ctx);
    log.info('api.user_updated', { user: user.id, ...(input.user.active !== undefined ? { active: input.user.active } : {}) });
    await emit(ctx, input.user.active === undefined ? ['user.update'] : ['user.update', input.user.active ? 'user.reactivate' : 'user.deactivate'], { user });
    ctx.body = { user: userJson(user) };
  });

  /** FusionAuth's PUT /api/user/{id}?reactivate=true: a deactivated user may sign in again (the body is not read). */
  async function reactivate(ctx: Context, id: string | null): Promise<void> {
    const user = id ? await updateUser(deps.store, id, { active: true }) : null;
    if (!user) return notFound(ctx);
    log.info('api.user_reactivated', { user: user.id });
    await emit(ctx, ['user.reactivate'], { user });
    ctx.body = { user: userJson(user) };
  }

  /**
   * As FusionAuth: a DELETE deactivates the user (kept, `active: false`: no sign-in by the API or
   * the hosted pages, refresh tokens revoked) and `?hardDelete=true` purges the user and all that
   * is kept for them. Deactivating only loses nothing an administrator may want back.
   */
  router.delete('/user/:userId', deps.requireKey, async (ctx) => {
    const id = userIdOf(ctx);
    if (ctx.query.hardDelete === 'true') {
      // Read first: the event shows the user as it was.
      const gone = id ? await users.findById(id) : null;
      if (!id || !(await deleteUser(deps.store, id))) return notFound(ctx);
      log.info('api.user_deleted', { user: id });
      await emit(ctx, ['user.delete'], { user: gone, userId: id });
      return answerEmpty(ctx, 200);
    }
    const user = id ? await updateUser(deps.store, id, { active: false }) : null;
    if (!user) return notFound(ctx);
    log.info('api.user_deactivated', { user: user.id });
    await emit(ctx, ['user.deactivate'], { user });
    answerEmpty(ctx, 200);
  });
}
