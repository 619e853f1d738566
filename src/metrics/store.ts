import type { Adapter } from 'oidc-provider';
import type { Store } from '../storage/types.js';

/** Told of every store call: its name (`codes.insert`, `oidc.Session.find`), how long it took, whether it failed. */
export type StoreObserver = (operation: string, seconds: number, failed: boolean) => void;

const REPOSITORIES = ['users', 'codes', 'counters', 'apiKeys', 'refreshTokens', 'twoFactor', 'twoFactorLogins', 'twoFactorTrusts', 'webhookDeliveries'] as const;

function secondsSince(started: number): number {
  return (performance.now() - started) / 1000;
}

/** `operation` run as `call`, its time and outcome told to `observe` (a thrown error and a rejection alike). */
function timeCall(operation: string, observe: StoreObserver, call: () => unknown): unknown {
  const started = performance.now();
  let result: unknown;
  try {
    result = call();
  } catch (err) {
    observe(operation, secondsSince(started), true);
    throw err;
  }
  if (!(result instanceof Promise)) {
    observe(operation, secondsSince(started), false);
    return result;
  }
  return result.then(
    (value: unknown) => {
      observe(operation, secondsSince(started), false);
      return value;
    },
    (err: unknown) => {
      observe(operation, secondsSince(started), true);
      throw err;
    },
  );
}

/**
 * `target` seen through a proxy whose methods are timed under `<prefix>.<method>`. They still
 * run on `target` itself, as do its getters: classes with private fields work unchanged.
 */
function timed<T extends object>(prefix: string, target: T, observe: StoreObserver, replaced: Record<string, unknown> = {}): T {
  const methods = new Map<PropertyKey, unknown>();
  return new Proxy(target, {
    get(object, property) {
      if (typeof property === 'string' && Object.hasOwn(replaced, property)) return replaced[property];
      const value = Reflect.get(object, property, object) as unknown;
      if (typeof value !== 'function' || property === 'constructor') return value;
      let method = methods.get(property);
      if (!method) {
        const operation = `${prefix}.${String(property)}`;
        const original = value as (...args: unknown[]) => unknown;
        method = (...args: unknown[]) => timeCall(operation, observe, () => original.apply(object, args));
        methods.set(property, method);
      }
      return method;
    },
  });
}

/**
 * The same store with every repository call and every node-oidc-provider adapter call timed.
 * Operation names come from the code (repository, model and method names), never from data.
 */
export function observedStore(store: Store, observe: StoreObserver): Store {
  const replaced: Record<string, unknown> = Object.fromEntries(REPOSITORIES.map((name) => [name, timed(name, store[name], observe)]));
  // The store's own calls (init, ping, close) are not data operations; only the adapters' are timed.
  const adapters = new Map<string, Adapter>();
  const untimed = (name: 'init' | 'ping' | 'close') => () => store[name]();
  Object.assign(replaced, {
    oidcAdapter: (model: string): Adapter => {
      let adapter = adapters.get(model);
      if (!adapter) adapters.set(model, (adapter = timed(`oidc.${model}`, store.oidcAdapter(model), observe)));
      return adapter;
    },
    // A scope, not an operation: the calls made inside it are timed one by one.
    atomically: <T>(work: () => Promise<T>): Promise<T> => store.atomically(work),
    init: untimed('init'),
    ping: untimed('ping'),
    close: untimed('close'),
  });
  return timed('store', store, observe, replaced);
}
