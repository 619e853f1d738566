import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { DuplicateKeyError, type UserRecord, type UserRepository } from '../storage/types.js';
import { createUser, deleteUser, registerUser, replacementOf, updateUser, type UserChanges } from '../accounts/admin.js';
import { findByLoginId, registrationFor } from '../accounts/users.js';
import type { ApplicationDirectory } from '../passwordless/api-login.js';
import { log } from '../log.js';
import { answerEmpty } from './respond.js';
import { fieldError, parseInput } from './validation.js';
import { createUserRequest, patchUserRequest, registerNewUserRequest, registerRequest, replaceUserRequest, userIdParam, userQuery } from './schemas.js';
import { registrationJson, userJson } from './user-json.js';
import type { EventInput, EventStep, EventType, Events } from '../events/events.js';

export interface UserRouteDeps {
  /** The users, and what locking or deleting one clears besides the user. */
  store: Parameters<typeof deleteUser>[0];
  applications: ApplicationDirectory;
  requireKey: Middleware;
  body: Middleware;
  /** Told of every change, in the same step of the store as the change (webhooks). */
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

/** The user a GET /api/user query names: by email, by username, or by loginId (an email, else a username, as a login looks it up). */
async function findByQuery(users: UserRepository, query: { email?: string | undefined; loginId?: string | undefined; username?: string | undefined }): Promise<UserRecord | null> {
  if (query.email !== undefined) return findByLoginId(users, query.email, ['email']);
  if (query.username !== undefined) return findByLoginId(users, query.username, ['username']);
  return findByLoginId(users, query.loginId ?? '');
}

/** The user API: create, read, replace, change (lock/unlock), delete, register. All calls need an API key. */
export function userRoutes(router: Router, deps: UserRouteDeps): void {
  const { applications } = deps;
  const { users } = deps.store;
  const guard = [deps.requireKey, deps.body];

  /** The events of one change, written before the answer: who asked from where is in `info`. */
  function emit(step: EventStep, ctx: Context, types: EventType[], input: EventInput): void {
    for (const type of types) step.emit(type, { ...input, info: { ipAddress: ctx.ip, userAgent: ctx.get('user-agent') } });
  }

  /**
   * A change and the events it emits, stored in one step (Events.atomically): both or neither.
   * The change may run twice (a MongoDB transaction retried), so it only writes and emits; the
   * log lines and the answer come after.
   */
  function withEvents<T>(change: (step: EventStep) => Promise<T>): Promise<T> {
    return deps.events.atomically(change);
  }

  /** Changes the user and writes `types` about the result, in one step; null (nothing written) when there is no such user. */
  function updateWithEvents(ctx: Context, id: string, changes: UserChanges, types: EventType[]): Promise<UserRecord | null> {
    return withEvents(async (step) => {
      const user = await updateUser(deps.store, id, changes);
      if (user) emit(step, ctx, types, { user });
      return user;
    });
  }

  /** Deletes the user and writes user.delete, showing the user as it was (read first); false when there was none. */
  async function deleteWithEvent(step: EventStep, ctx: Context, id: string): Promise<boolean> {
    const gone = await users.findById(id);
    if (!(await deleteUser(deps.store, id))) return false;
    emit(step, ctx, ['user.delete'], { user: gone, userId: id });
    return true;
  }

  async function requireApplication(id: string, field: string): Promise<void> {
    if (!(await applications.find(id))) throw fieldError(field, 'invalid', `No application has the id ${JSON.stringify(id)}.`);
  }

  async function create(ctx: Context, id: string | undefined): Promise<void> {
    refusePassword(ctx.request.body);
    const input = parseInput(createUserRequest, ctx.request.body);
    if (input.registration) await requireApplication(input.registration.applicationId, 'registration.applicationId');
    const user = await withEvents(async (step) => {
      const created = await createUser(users, { ...input.user, ...(id ? { id } : {}), ...(input.registration ? { registrations: [input.registration] } : {}) });
      emit(step, ctx, input.registration ? ['user.create', 'user.registration.create'] : ['user.create'], { user: created, applicationId: input.registration?.applicationId ?? null });
      return created;
    }).catch(asDuplicate);
    log.info('api.user_created', { user: user.id });
    ctx.body = { user: userJson(user) };
  }

  router.post('/user', ...guard, (ctx) => create(ctx, undefined));

  router.post('/user/registration', ...guard, async (ctx) => {
    refusePassword(ctx.request.body);
    const input = parseInput(registerNewUserRequest, ctx.request.body);
    await requireApplication(input.registration.applicationId, 'registration.applicationId');
    const user = await withEvents(async (step) => {
      const created = await createUser(users, { ...input.user, registrations: [input.registration] });
      emit(step, ctx, ['user.create', 'user.registration.create'], { user: created, applicationId: input.registration.applicationId });
      return created;
    }).catch(asDuplicate);
    log.info('api.user_created', { user: user.id, client: input.registration.applicationId });
    ctx.body = { user: userJson(user), registration: registrationJson(user.registrations[0]!) };
  });

  router.post('/user/registration/:userId', ...guard, async (ctx) => {
    const id = userIdOf(ctx);
    const input = parseInput(registerRequest, ctx.request.body);
    await requireApplication(input.registration.applicationId, 'registration.applicationId');
    const result = id
      ? await withEvents(async (step) => {
          const registered = await registerUser(users, id, input.registration);
          if (registered.ok) emit(step, ctx, ['user.registration.create'], { user: registered.user, applicationId: registered.registration.applicationId });
          return registered;
        })
      : ({ ok: false, problem: 'no_user' } as const);
    if (!result.ok && result.problem === 'no_user') return notFound(ctx);
    if (!result.ok) throw fieldError('registration.applicationId', 'duplicate', 'The user is already registered to this application.');
    log.info('api.user_registered', { user: result.user.id, client: result.registration.applicationId });
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
    const user = id ? await updateWithEvents(ctx, id, replacementOf(input.user), ['user.update']).catch(asDuplicate) : null;
    if (!user) return notFound(ctx);
    log.info('api.user_updated', { user: user.id, replaced: true });
    ctx.body = { user: userJson(user) };
  });

  router.patch('/user/:userId', ...guard, async (ctx) => {
    const id = userIdOf(ctx);
    refusePassword(ctx.request.body);
    const input = parseInput(patchUserRequest, ctx.request.body);
    const types: EventType[] = input.user.active === undefined ? ['user.update'] : ['user.update', input.user.active ? 'user.reactivate' : 'user.deactivate'];
    const user = id ? await updateWithEvents(ctx, id, input.user, types).catch(asDuplicate) : null;
    if (!user) return notFound(ctx);
    log.info('api.user_updated', { user: user.id, ...(input.user.active !== undefined ? { active: input.user.active } : {}) });
    ctx.body = { user: userJson(user) };
  });

  /** FusionAuth's PUT /api/user/{id}?reactivate=true: a deactivated user may sign in again (the body is not read). */
  async function reactivate(ctx: Context, id: string | null): Promise<void> {
    const user = id ? await updateWithEvents(ctx, id, { active: true }, ['user.reactivate']) : null;
    if (!user) return notFound(ctx);
    log.info('api.user_reactivated', { user: user.id });
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
      const deleted = id ? await withEvents((step) => deleteWithEvent(step, ctx, id)) : false;
      if (!deleted) return notFound(ctx);
      log.info('api.user_deleted', { user: id });
      return answerEmpty(ctx, 200);
    }
    const user = id ? await updateWithEvents(ctx, id, { active: false }, ['user.deactivate']) : null;
    if (!user) return notFound(ctx);
    log.info('api.user_deactivated', { user: user.id });
    answerEmpty(ctx, 200);
  });
}
