/**
 * The rate limits count in fixed windows aligned to the epoch (see RateLimiter): a count that
 * must reach a limit is split in two, and never reaches it, when a window ends between its
 * requests. A test that counts calls this first: when less than `marginMs` is left of the
 * current window of each of `windowSeconds`, it waits for the next window to begin.
 */
export async function awayFromWindowEnd(windowSeconds: number[], marginMs = 10_000): Promise<void> {
  const now = Date.now();
  const wait = Math.max(0, ...windowSeconds.map((seconds) => seconds * 1000 - (now % (seconds * 1000))).filter((left) => left < marginMs));
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait + 50));
}
