/** Values are copied in and out so callers cannot share mutable state, as with a real database. */
export const copy = <T>(value: T): T => structuredClone(value);

export interface Expiring<T> {
  value: T;
  expiresAt: number;
}
