import type { CodeRepository, PasswordlessCodeRecord, Store } from '../../src/storage/types.js';

export interface HeldInsertsStore {
  store: Store;
  /**
   * Holds the next `count` code inserts: each lands in the real store at once, but none returns
   * before all `count` have landed. Concurrent issues then take the interleaving "every insert
   * before any supersede" on every run, not only when the scheduler happens to produce it.
   */
  holdInserts(count: number): void;
}

interface Gate {
  left: number;
  open: () => void;
  opened: Promise<void>;
}

/** `inner` with code inserts that a test can hold back (see {@link HeldInsertsStore.holdInserts}). */
export function heldInsertsStore(inner: Store): HeldInsertsStore {
  let gate: Gate | null = null;
  const insert = async (record: PasswordlessCodeRecord): Promise<void> => {
    const held = gate;
    try {
      await inner.codes.insert(record);
    } finally {
      // A failed insert still counts, so the others are not held forever.
      if (held && --held.left === 0) {
        gate = null;
        held.open();
      }
    }
    if (held) await held.opened;
  };
  // Calls go to the real objects, so their private fields keep working behind the proxies.
  const codes = new Proxy(inner.codes, {
    get(object, property) {
      if (property === 'insert') return insert;
      const value = Reflect.get(object, property, object) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(object) : value;
    },
  }) satisfies CodeRepository;
  const store = new Proxy(inner, {
    get(object, property) {
      if (property === 'codes') return codes;
      const value = Reflect.get(object, property, object) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(object) : value;
    },
  });
  return {
    store,
    holdInserts(count) {
      let open = (): void => undefined;
      const opened = new Promise<void>((resolve) => {
        open = resolve;
      });
      gate = { left: count, open, opened };
    },
  };
}
