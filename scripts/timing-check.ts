/**
 * npm run timing-check [-- <requests per group>]
 *
 * Measures how long the hosted POST /interaction/:uid/email takes for a known and for an
 * unknown address (rule 4: the page must not tell them apart, in content or in time) and
 * prints the difference of medians and the two-sample Kolmogorov–Smirnov statistic.
 * A measurement for people to read, not a test: timings on a shared machine are noisy.
 *
 * The requests come from a child process: a client in the server's own process would share
 * its event loop with the mail work queued after each answer and measure that instead.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config/load.js';
import { startServer } from '../src/server.js';
import { generateCookieKeys, generateSigningKeys } from '../src/provider/keys.js';

const KNOWN = 'known@example.com';
const UNKNOWN = 'unknown@example.com';
const perGroup = Number(process.argv[2] ?? process.env.TIMING_REQUESTS ?? 300);

process.env.LOG_LEVEL ??= 'silent';

/** Median of sorted values. */
function median(sorted: number[]): number {
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Largest distance between the two empirical distribution functions. */
function ksStatistic(a: number[], b: number[]): number {
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < a.length && j < b.length) {
    const x = Math.min(a[i]!, b[j]!);
    while (i < a.length && a[i]! <= x) i += 1;
    while (j < b.length && b[j]! <= x) j += 1;
    d = Math.max(d, Math.abs(i / a.length - j / b.length));
  }
  return d;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;

/** The client: times `perGroup` requests per address, interleaved at random, and prints them as JSON. */
async function client(base: string): Promise<void> {
  /** A fresh sign-in at its email form: the uid, the browser's cookies and the form token. */
  async function freshForm(): Promise<{ uid: string; cookie: string; csrf: string }> {
    const query = new URLSearchParams({ client_id: 'timing', response_type: 'code', scope: 'openid', redirect_uri: 'http://127.0.0.1:9/cb', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' });
    const auth = await fetch(`${base}/auth?${query}`, { redirect: 'manual' });
    const cookie = auth.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const uid = /\/interaction\/([\w-]+)/.exec(auth.headers.get('location') ?? '')![1]!;
    const form = await (await fetch(`${base}/interaction/${uid}`, { headers: { cookie } })).text();
    return { uid, cookie, csrf: /name="csrf" value="([^"]*)"/.exec(form)![1]! };
  }

  async function timeOne(email: string): Promise<number> {
    const { uid, cookie, csrf } = await freshForm();
    const started = process.hrtime.bigint();
    const response = await fetch(`${base}/interaction/${uid}/email`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf, email }).toString(),
    });
    await response.text();
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    if (response.status !== 200) throw new Error(`unexpected status ${response.status}`);
    // Let the work queued after the answer (code, email) finish before the next request.
    await new Promise((resolve) => setTimeout(resolve, 25));
    return ms;
  }

  // Warm-up, then known and unknown interleaved at random so drift hits both alike.
  for (let i = 0; i < 20; i += 1) await timeOne(i % 2 ? KNOWN : UNKNOWN);
  const known: number[] = [];
  const unknown: number[] = [];
  const order = [...Array<string>(perGroup).fill(KNOWN), ...Array<string>(perGroup).fill(UNKNOWN)].sort(() => Math.random() - 0.5);
  for (const email of order) (email === KNOWN ? known : unknown).push(await timeOne(email));
  process.stdout.write(JSON.stringify({ known, unknown }));
}

/** Runs this script again as the client, in its own process. */
function runClient(base: string): Promise<{ known: number[]; unknown: number[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, String(perGroup)], { env: { ...process.env, TIMING_CLIENT_BASE: base }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as { known: number[]; unknown: number[] }) : reject(new Error(`client exited with ${code}`))));
  });
}

async function main(): Promise<void> {
  const config = loadConfig({
    env: {},
    overrides: {
      port: 0,
      jwks: await generateSigningKeys(),
      cookieKeys: generateCookieKeys(),
      dataDirectory: mkdtempSync(path.join(tmpdir(), 'oml-timing-')),
      clients: [{ client_id: 'timing', client_name: 'Timing', token_endpoint_auth_method: 'none', redirect_uris: ['http://127.0.0.1:9/cb'], first_party: true }],
      users: [{ email: KNOWN, firstName: 'Known' }],
      // Measure the answer itself, not the limits (which would stop most requests).
      rateLimits: { enabled: false },
    },
  });
  const running = await startServer(config);
  const base = `http://127.0.0.1:${running.port}`;

  try {
    const { known, unknown } = await runClient(base);
    known.sort((a, b) => a - b);
    unknown.sort((a, b) => a - b);

    const d = ksStatistic(known, unknown);
    const critical = 1.358 * Math.sqrt((known.length + unknown.length) / (known.length * unknown.length));
    const row = (name: string, v: number[]) => `  ${name.padEnd(8)} n=${v.length}  median ${median(v).toFixed(3)} ms  p10 ${percentile(v, 0.1).toFixed(3)}  p90 ${percentile(v, 0.9).toFixed(3)}`;
    process.stdout.write(
      [
        'POST /interaction/:uid/email — known vs unknown address (rate limits off)',
        row('known', known),
        row('unknown', unknown),
        `  difference of medians (known − unknown): ${(median(known) - median(unknown)).toFixed(3)} ms`,
        `  Kolmogorov–Smirnov D = ${d.toFixed(4)} (5% critical value for these sizes ≈ ${critical.toFixed(4)}; ${d < critical ? 'no detectable difference' : 'distributions differ'})`,
        '',
      ].join('\n'),
    );
  } finally {
    await running.stop();
  }
}

const clientBase = process.env.TIMING_CLIENT_BASE;
(clientBase ? client(clientBase) : main()).catch((err: unknown) => {
  process.stderr.write(`timing-check failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
