/**
 * `derive` computed once per key object and kept beside it (a WeakMap: it goes when the key
 * goes). For values derived from objects that never change once built — node-oidc-provider's
 * Client objects (a changed client is a new object) and what is read from them — which the
 * sign-in steps would otherwise rebuild on every request.
 */
export function derivedOnce<K extends object, V>(derive: (key: K) => V): (key: K) => V {
  const kept = new WeakMap<K, V>();
  return (key) => {
    if (kept.has(key)) return kept.get(key) as V;
    const value = derive(key);
    kept.set(key, value);
    return value;
  };
}
