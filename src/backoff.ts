/**
 * The wait before retry number `retry` (1 for the first retry): `initialMs`, doubling each time,
 * at most `maxMs`, spread by ±`jitter` (a fraction) so that callers that failed together do not
 * all try again together. Mail delivery and the webhook sender both retry this way.
 */
export function backoffDelay(retry: number, settings: { initialMs: number; maxMs: number; jitter: number }): number {
  const base = Math.min(settings.maxMs, settings.initialMs * 2 ** (retry - 1));
  return Math.round(base * (1 - settings.jitter + Math.random() * 2 * settings.jitter));
}
