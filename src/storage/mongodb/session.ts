import { AsyncLocalStorage } from 'node:async_hooks';
import type { ClientSession } from 'mongodb';

/**
 * The transaction a {@link MongoStore}'s `atomically` is running, as seen from the async context
 * that runs it. Repositories spread {@link SessionScope.options} into every collection call, so
 * whatever a change touches joins the transaction without any repository method taking a
 * session. One scope per store: a session belongs to the client that started it, and a process
 * may hold several stores (the tests do).
 */
export class SessionScope {
  readonly #current = new AsyncLocalStorage<ClientSession>();

  /** `{ session }` while a transaction of this store runs in this async context; `{}` otherwise. */
  options(): { session?: ClientSession } {
    const session = this.#running();
    return session ? { session } : {};
  }

  /** Whether this async context is inside a running transaction of this store (a nested `atomically` joins it). */
  get active(): boolean {
    return this.#running() !== undefined;
  }

  /**
   * The context's session while its transaction is still open. Work started inside `atomically`
   * and left running (a timer, an unawaited write) keeps the context after the transaction ended:
   * it then runs on its own rather than on a finished session.
   */
  #running(): ClientSession | undefined {
    const session = this.#current.getStore();
    return session?.inTransaction() ? session : undefined;
  }

  /** Runs `work` with `session` as the current transaction of everything it calls. */
  run<T>(session: ClientSession, work: () => Promise<T>): Promise<T> {
    return this.#current.run(session, work);
  }
}

/** For repositories built outside a store (the plugin's `mongoMagicLinkStore`): never in a transaction. */
export const NO_TRANSACTION = new SessionScope();
