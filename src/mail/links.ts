/**
 * Appends `state` entries to a link as query parameters (URL-encoded). Keys the link already
 * carries, and `reserved` ones, are never overwritten: a caller's state cannot redirect a link.
 * Nested values are sent as JSON; null and undefined entries are left out.
 */
export function withStateParameters(link: string, state: Record<string, unknown> | null, reserved: readonly string[] = []): string {
  if (!state) return link;
  const url = new URL(link);
  const taken = new Set([...url.searchParams.keys(), ...reserved]);
  for (const [key, value] of Object.entries(state)) {
    if (taken.has(key) || value === null || value === undefined) continue;
    url.searchParams.append(key, typeof value === 'object' ? JSON.stringify(value) : String(value));
  }
  return url.href;
}
