import type { Store } from '../../src/storage/types.js';

/** Methods that always write. */
const WRITES = new Set(['insert', 'increment', 'decrement', 'upsert', 'destroy', 'revokeByGrantId']);
/** Methods that write only when they say so (a record, `true` or a count above zero); a miss changes nothing. */
const CONDITIONAL_WRITES = new Set(['replaceIfUnchanged', 'delete', 'supersedeAllButNewest', 'compareAndSet', 'reserveAttempt', 'consume', 'deleteByUser', 'claimStep', 'useRecoveryCode', 'complete']);

/** Calls a method on its real object, so private fields keep working behind the proxy. */
function counted<T extends object>(target: T, area: string, writes: Map<string, number>): T {
  const add = (name: string) => writes.set(`${area}.${name}`, (writes.get(`${area}.${name}`) ?? 0) + 1);
  return new Proxy(target, {
    get(object, property) {
      const value = Reflect.get(object, property, object) as unknown;
      if (typeof value !== 'function') return value;
      const name = String(property);
      return (...args: unknown[]) => {
        const result = (value as (...a: unknown[]) => unknown).apply(object, args);
        if (WRITES.has(name)) add(name);
        else if (CONDITIONAL_WRITES.has(name)) {
          void Promise.resolve(result).then((outcome) => {
            if (outcome !== null && outcome !== false && outcome !== 0 && outcome !== undefined) add(name);
          }, () => undefined);
        }
        return result;
      };
    },
  });
}

/**
 * A store that counts every write by repository and method (`users.insert`, `oidc:Session.upsert`, …),
 * for tests that must show a request changed nothing.
 */
export function writeCountingStore(inner: Store): { store: Store; writes: Map<string, number> } {
  const writes = new Map<string, number>();
  // Every repository the store has, including ones added later (two-factor, …).
  const wrapped = new Map<string, unknown>();
  const store = new Proxy(inner, {
    get(object, property) {
      if (property === 'oidcAdapter') return (model: string) => counted(object.oidcAdapter(model), `oidc:${model}`, writes);
      const value = Reflect.get(object, property, object) as unknown;
      if (typeof value === 'function') return (value as (...a: unknown[]) => unknown).bind(object);
      if (typeof property !== 'string' || value === null || typeof value !== 'object') return value;
      if (!wrapped.has(property)) wrapped.set(property, counted(value, property, writes));
      return wrapped.get(property);
    },
  });
  return { store, writes };
}
