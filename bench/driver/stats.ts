/** Latency samples and the figures the report prints. */
export class Samples {
  readonly #values: number[] = [];
  ok = 0;
  errors = new Map<string, number>();

  add(ms: number): void {
    this.#values.push(ms);
    this.ok += 1;
  }

  fail(reason: string): void {
    this.errors.set(reason, (this.errors.get(reason) ?? 0) + 1);
  }

  get errorCount(): number {
    let n = 0;
    for (const count of this.errors.values()) n += count;
    return n;
  }

  percentile(p: number): number {
    if (this.#values.length === 0) return NaN;
    const sorted = [...this.#values].sort((a, b) => a - b);
    const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return sorted[index] ?? NaN;
  }

  summary(): { count: number; p50: number; p95: number; p99: number; max: number } {
    return {
      count: this.ok,
      p50: round(this.percentile(50)),
      p95: round(this.percentile(95)),
      p99: round(this.percentile(99)),
      max: round(this.percentile(100)),
    };
  }
}

export const round = (value: number, digits = 1): number => (Number.isFinite(value) ? Number(value.toFixed(digits)) : NaN);

/** The middle value (the mean of the two middle ones for an even count): what one odd round cannot move. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** A count flag of a bench script (`--rounds 5`): a whole number of at least 1, or the script ends naming the flag. */
export function countFlag(name: string, value: string | undefined): number {
  const count = Number(value);
  if (!Number.isInteger(count) || count < 1) {
    process.stderr.write(`--${name} must be a whole number of at least 1 (got ${JSON.stringify(value)})\n`);
    process.exit(2);
  }
  return count;
}

/** Runs `workers` loops of `step` until `durationMs` has passed; each step reports its own outcome. */
export async function runFor(durationMs: number, workers: number, step: (worker: number, iteration: number) => Promise<void>): Promise<number> {
  const started = performance.now();
  const deadline = started + durationMs;
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      for (let iteration = 0; performance.now() < deadline; iteration += 1) await step(worker, iteration);
    }),
  );
  return performance.now() - started;
}
