/**
 * `npm run bench`: starts our server and a bare node-oidc-provider as separate processes,
 * drives both from this process over loopback with the same driver, and prints / writes
 * bench/results.json. See bench/README.md for what each figure means.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { generateCookieKeys, generateSigningKeys } from '../src/provider/keys.js';
import { ALL_SERVER_KINDS, BENCH_CLIENT_ID, SERVER_KINDS, benchEmail, type BenchClient, type ServerKind, type ServerSpec, type ServerStats } from './protocol.js';
import { launchServer, startWireEngine, type ServerHandle } from './servers.js';
import { Target } from './driver/http.js';
import { SmtpSink } from './driver/smtp-sink.js';
import { startWebhookSink } from './driver/webhook-sink.js';
import { apiPair, bareFlow, FlowError, magicLinkFlow, refreshGrant, type FlowContext } from './driver/flows.js';
import { round, runFor, Samples } from './driver/stats.js';
import { renderReport, type Measure, type Results, type StepCpu } from './report.js';

const here = path.dirname(fileURLToPath(import.meta.url));

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '40' },
    'api-duration': { type: 'string', default: '12' },
    'refresh-duration': { type: 'string', default: '10' },
    warmup: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '2' },
    together: { type: 'boolean', default: false },
    concurrency: { type: 'string', short: 'c', default: '16' },
    'api-concurrency': { type: 'string', default: '32' },
    users: { type: 'string', default: '1000' },
    store: { type: 'string', default: 'memory' },
    workers: { type: 'string', default: '1' },
    ttl: { type: 'string', default: '' },
    profile: { type: 'boolean', default: false },
    'node-flag': { type: 'string', multiple: true, default: [] },
    'smtp-query': { type: 'string', default: '' },
    'memory-signins': { type: 'string', default: '0' },
    metrics: { type: 'boolean', default: false },
    webhooks: { type: 'boolean', default: false },
    'bare-posts': { type: 'boolean', default: false },
    'webhook-events': { type: 'string', default: '*' },
    plugin: { type: 'boolean', default: false },
    steps: { type: 'string', default: '0' },
    only: { type: 'string', default: 'flows,refresh,api' },
    out: { type: 'string', default: path.join(here, 'results.json') },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (flags.help) {
  console.log(`npm run bench -- [options]
  --duration S          seconds of hosted flows per server, split over --rounds (default 40)
  --rounds N            run every contender this many times, in a rotating order, to spread noise evenly (default 2)
  --together            in each round of hosted flows, load every contender at the same time (each with --concurrency
                        users) instead of one after the other: a change of the machine's speed then weighs on all alike
                        within the round (the ratios' noise), at the price of the servers sharing the cores
  --concurrency N, -c   concurrent users in the flow phases (default 16)
  --api-duration S      seconds per API variant, noJWT and JWT (default 12)
  --api-concurrency N   concurrent API clients (default 32)
  --refresh-duration S  seconds of refresh grants per server (default 10)
  --warmup S            seconds of unrecorded flows per server first (default 4)
  --users N             seeded users (default 1000; must be >= concurrency)
  --store memory|mongodb  ours on the memory store (default) or MongoDB (MONGODB_URI, else the wire engine)
  --ttl S               cap every session, grant, token and code lifetime at S seconds in both servers
                        (a soak then shows whether memory levels off once state starts to expire)
  --workers N           ours as a node:cluster of N worker processes on one port, as WORKERS=N in production
                        (default 1: no cluster; N > 1 needs --store mongodb). CPU is summed over the primary and
                        every worker, memory over the workers
  --profile             run the servers with --cpu-prof into bench/profiles/
  --node-flag F         a Node/V8 flag for every server process, repeatable (e.g. --node-flag=--single-threaded-gc:
                        garbage collection then runs on the main thread, where --profile and the steps' main-thread row see it)
  --smtp-query Q        appended to ours' SMTP URL, e.g. pool=false (A/B of nodemailer options)
  --memory-signins N    after everything else, N more sign-ins on ours, memory before/after (default 0: skip)
  --steps N             server CPU per step of the flow, ours and bare: N sequential flows each (default 0: skip)
  --only LIST           comma list of flows,refresh,api (default all)
  --metrics             also run ours with Prometheus metrics on, alternating with the others, for their cost
                        (hosted flows and API pairs; the report gives metrics-on ÷ ours)
  --webhooks            likewise ours with a webhook subscribed to every event (a receiver in a process of its own answers 200)
  --bare-posts          likewise ours whose every event is one bare POST to the same receiver, nothing stored,
                        signed, capped or retried: the least any sender of one event per POST costs
  --webhook-events LIST that webhook's event types instead of every one, comma-separated (e.g. user.login.success:
                        what one kind of event costs)
  --plugin              also the plugin in a Koa host (examples/koa-host's way, bench/plugin-host.ts): the report gives plugin ÷ floor
  --out FILE            results JSON (default bench/results.json)`);
  process.exit(0);
}

/** A bad flag ends the run before anything starts, with a message rather than a stack trace. */
function refuse(message: string): never {
  process.stderr.write(`npm run bench: ${message} (see --help)\n`);
  process.exit(2);
}

const num = (name: string, value: string | undefined): number => {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) refuse(`--${name} must be a non-negative number`);
  return n;
};
const settings = {
  durationS: num('duration', flags.duration),
  apiDurationS: num('api-duration', flags['api-duration']),
  refreshDurationS: num('refresh-duration', flags['refresh-duration']),
  warmupS: num('warmup', flags.warmup),
  rounds: Math.max(1, Math.floor(num('rounds', flags.rounds))),
  together: flags.together ?? false,
  concurrency: Math.max(1, Math.floor(num('concurrency', flags.concurrency))),
  apiConcurrency: Math.max(1, Math.floor(num('api-concurrency', flags['api-concurrency']))),
  users: Math.max(1, Math.floor(num('users', flags.users))),
  store: flags.store === 'mongodb' ? 'mongodb' : 'memory',
  workers: Math.max(1, Math.floor(num('workers', flags.workers))),
  ttlSeconds: flags.ttl ? Math.max(1, Math.floor(num('ttl', flags.ttl))) : null,
  profile: flags.profile ?? false,
  nodeFlags: flags['node-flag'] ?? [],
  smtpQuery: flags['smtp-query'] ?? '',
  memorySignIns: Math.floor(num('memory-signins', flags['memory-signins'])),
  metrics: flags.metrics ?? false,
  webhooks: flags.webhooks ?? false,
  barePosts: flags['bare-posts'] ?? false,
  webhookEvents: (flags['webhook-events'] ?? '*').split(',').map((s) => s.trim()).filter(Boolean),
  plugin: flags.plugin ?? false,
  steps: Math.floor(num('steps', flags.steps)),
  only: new Set((flags.only ?? '').split(',').map((s) => s.trim())),
};
if (settings.concurrency > settings.users || settings.apiConcurrency > settings.users) {
  refuse('--users must be at least the concurrency (each concurrent user needs its own addresses)');
}
if (settings.workers > 1 && settings.store !== 'mongodb') {
  refuse(`--workers ${settings.workers} needs --store mongodb: the memory store lives in one process and cannot be shared between workers`);
}

/** Copies of ours with one feature on, each only when asked for: their cost against ours in the same rounds. */
const variants: readonly ServerKind[] = [
  ...(settings.metrics ? (['metrics'] as const) : []),
  ...(settings.webhooks ? (['webhooks'] as const) : []),
  ...(settings.barePosts ? (['posts'] as const) : []),
];
/** The contenders of this run: the plugin host too when asked for (it is not our server: no API, no variants). */
const kinds: readonly ServerKind[] = [...SERVER_KINDS, ...variants, ...(settings.plugin ? (['plugin'] as const) : [])];
/** The contenders that are our server. */
const ourKinds: readonly ServerKind[] = ['ours', ...variants];
const VARIANT_LABEL: Partial<Record<ServerKind, string>> = {
  metrics: 'metrics on',
  webhooks: settings.webhookEvents.includes('*') ? 'webhook on every event' : `webhook on ${settings.webhookEvents.join(', ')}`,
  posts: `one bare POST per ${settings.webhookEvents.includes('*') ? 'event' : settings.webhookEvents.join(', ')}`,
};

/** A value of its own for every kind of server (a new kind then needs no edit here). */
function perKind<T>(make: () => T): Record<ServerKind, T> {
  return Object.fromEntries(ALL_SERVER_KINDS.map((kind) => [kind, make()])) as Record<ServerKind, T>;
}

/** Where each variant's CPU per hosted flow, divided by ours', goes in the headline. */
const HEADLINE_RATIO: Partial<Record<ServerKind, 'metricsCpuPerFlowRatio' | 'webhooksCpuPerFlowRatio' | 'postsCpuPerFlowRatio'>> = {
  metrics: 'metricsCpuPerFlowRatio',
  webhooks: 'webhooksCpuPerFlowRatio',
  posts: 'postsCpuPerFlowRatio',
};

/**
 * The contenders in round `n` (from 1): one cycle, begun one place further on each round, so over
 * as many rounds as there are contenders each takes every place once and a drift of the machine
 * weighs on all alike. Every contender then waits about as long between its windows. The A B B A
 * order used before ran the two at its ends twice in a row and then left them idle for twice as
 * long as the others; the end's window after that idle read high (the webhooks contender's worst
 * rounds were all there), and in an A/A run the end slot read about +0.04.
 */
function roundOrder(n: number): ServerKind[] {
  const cycle = [...variants, 'ours', 'floor', ...kinds.filter((kind) => kind === 'plugin'), 'bare'] as ServerKind[];
  const start = (n - 1) % cycle.length;
  return [...cycle.slice(start), ...cycle.slice(0, start)];
}

/** How ours ran, for its labels: `c=16` or `c=16, 2 workers`. */
const oursRun = (concurrency: number): string => (settings.workers > 1 ? `c=${concurrency}, ${settings.workers} workers` : `c=${concurrency}`);

/** Worker w only ever uses seeded users w, w+C, w+2C…: no two concurrent users share an address. */
const emailFor = (worker: number, iteration: number, workers: number): string => {
  const perWorker = Math.max(1, Math.floor((settings.users - worker - 1) / workers) + 1);
  return benchEmail(worker + (iteration % perWorker) * workers);
};

const cpuMs = (a: ServerStats, b: ServerStats) => (b.cpu.user - a.cpu.user + b.cpu.system - a.cpu.system) / 1000;

/**
 * How much a counter a server may not report grew from `a` to `b`: NaN where it is missing (the
 * main thread's CPU is Linux only, a cluster reports neither, store calls are counted only with
 * --steps), which the report shows as '-'.
 */
const grew = (a: ServerStats, b: ServerStats, counter: 'mainThreadCpuMs' | 'gcPauseMs' | 'storeCalls'): number => {
  const [from, to] = [a[counter], b[counter]];
  return from !== undefined && to !== undefined ? to - from : NaN;
};

function reasonOf(err: unknown): string {
  if (err instanceof FlowError) return err.message;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : err instanceof Error ? err.message.slice(0, 80) : String(err);
}

/** Runs `step` on `workers` loops for `seconds` while reading the server's CPU before and after. */
async function measure(
  server: ServerHandle,
  seconds: number,
  workers: number,
  step: (worker: number, iteration: number, samples: Samples) => Promise<void>,
  samples = new Samples(),
  totals: Totals = noTotals(),
): Promise<{ samples: Samples; totals: Totals }> {
  const before = await server.stats();
  totals.elapsedMs += await runFor(seconds * 1000, workers, (w, i) => step(w, i, samples));
  const after = await deliveriesSent(server);
  totals.cpuMs += cpuMs(before, after);
  totals.systemMs += (after.cpu.system - before.cpu.system) / 1000;
  totals.mainThreadMs += grew(before, after, 'mainThreadCpuMs');
  totals.gcPauseMs += grew(before, after, 'gcPauseMs');
  return { samples, totals };
}

/**
 * The server's stats once the deliveries of the events raised so far have all been settled (a
 * server without webhooks at once): the CPU they take is counted in the window whose requests
 * raised them. Without this, a sender that fell behind sent part of one window's deliveries in
 * the next (or in another contender's, where nobody counted them).
 */
async function deliveriesSent(server: ServerHandle): Promise<ServerStats> {
  const started = performance.now();
  let stats = await server.stats();
  while (stats.deliveriesPending) {
    if (performance.now() - started > 120_000) throw new Error('webhook deliveries still pending 120 s after the load stopped');
    // Not more often: the memory store's listing sorts every pending delivery (a few ms with thousands).
    await new Promise((resolve) => setTimeout(resolve, 100));
    stats = await server.stats();
  }
  const waited = performance.now() - started;
  if (waited > 1000) log(`  waited ${round(waited / 1000, 1)} s for the webhook deliveries still pending`);
  return stats;
}

/** What a measure adds up over its rounds: wall time, the server's CPU, and its main thread's share. */
interface Totals {
  elapsedMs: number;
  cpuMs: number;
  /** The kernel's share of cpuMs (system calls: the sockets' reads and writes). */
  systemMs: number;
  mainThreadMs: number;
  /** The main thread's pauses for garbage collection (part of mainThreadMs). */
  gcPauseMs: number;
}

/** Nothing measured yet. */
function noTotals(): Totals {
  return { elapsedMs: 0, cpuMs: 0, systemMs: 0, mainThreadMs: 0, gcPauseMs: 0 };
}

function toMeasure(label: string, samples: Samples, totals: Totals, extra: Partial<Measure> = {}): Measure {
  const seconds = totals.elapsedMs / 1000;
  return {
    label,
    perSecond: round(samples.ok / seconds),
    ...samples.summary(),
    errors: samples.errorCount,
    errorReasons: Object.fromEntries(samples.errors),
    serverCpuMsPerOp: samples.ok > 0 ? round(totals.cpuMs / samples.ok, 2) : NaN,
    serverMainThreadMsPerOp: samples.ok > 0 ? round(totals.mainThreadMs / samples.ok, 2) : NaN,
    serverKernelMsPerOp: samples.ok > 0 ? round(totals.systemMs / samples.ok, 2) : NaN,
    serverGcPauseMsPerOp: samples.ok > 0 ? round(totals.gcPauseMs / samples.ok, 2) : NaN,
    serverCores: round(totals.cpuMs / totals.elapsedMs, 2),
    seconds: round(seconds),
    ...extra,
  };
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const driverCpuStart = process.cpuUsage();
  const loadBefore = os.loadavg();
  const client: BenchClient = {
    client_id: BENCH_CLIENT_ID,
    client_secret: randomBytes(24).toString('base64url'),
    redirect_uris: ['http://127.0.0.1:9/cb'],
  };
  const apiKey = randomBytes(32).toString('base64url');
  const [jwks, sink] = [await generateSigningKeys(), new SmtpSink()];
  const smtpUrl = `${await sink.listen()}${settings.smtpQuery ? `/?${settings.smtpQuery}` : ''}`;
  const hooks = settings.webhooks || settings.barePosts ? await startWebhookSink() : null;
  const webhookUrl = hooks?.url ?? null;

  let mongodbUri: string | null = null;
  let engine: { stop(): void } | null = null;
  if (settings.store === 'mongodb') {
    if (process.env.MONGODB_URI) mongodbUri = process.env.MONGODB_URI;
    else {
      const started = await startWireEngine();
      engine = started;
      mongodbUri = started.uri;
    }
  }
  const profileDir = settings.profile ? path.join(here, 'profiles') : null;
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const spec = (kind: ServerKind): ServerSpec => ({
    kind,
    jwks,
    cookieKeys: generateCookieKeys(),
    client,
    users: settings.users,
    smtpUrl,
    mongodbUri: ourKinds.includes(kind) ? mongodbUri : null,
    apiKey,
    workers: ourKinds.includes(kind) ? settings.workers : 1,
    webhookUrl: kind === 'webhooks' || kind === 'posts' ? webhookUrl : null,
    webhookEvents: settings.webhookEvents,
    countStoreCalls: kind === 'ours' && settings.steps > 0,
    ttlSeconds: settings.ttlSeconds,
  });

  const servers: Partial<Record<ServerKind, ServerHandle>> = {};
  const results: Results = {
    startedAt: startedAt.toISOString(),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      memoryGiB: round(os.totalmem() / 2 ** 30),
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
      loadAverageBefore: loadBefore.map((v) => round(v, 2)),
      loadAverageAfter: [],
    },
    commit: gitCommit(),
    settings: { ...settings, only: [...settings.only] },
    store: '',
    flows: [],
    requests: [],
    refresh: [],
    api: [],
    apiStatus: 'not run',
    headline: null,
    memory: [],
    steps: [],
    flowRounds: {},
    driverCpuSeconds: 0,
  };

  try {
    servers.ours = await launchServer(spec('ours'), { profileDir, nodeFlags: settings.nodeFlags });
    servers.floor = await launchServer(spec('floor'), { profileDir, nodeFlags: settings.nodeFlags });
    servers.bare = await launchServer(spec('bare'), { profileDir, nodeFlags: settings.nodeFlags });
    for (const kind of kinds.slice(SERVER_KINDS.length)) servers[kind] = await launchServer(spec(kind), { profileDir, nodeFlags: settings.nodeFlags });
    results.store = servers.ours.store;
    /** Ours, a copy of it, or the plugin host: driven as ours is, at its own server (ours' when not in this run). */
    const likeOurs = (kind: ServerKind): FlowContext => ({ target: new Target((servers[kind] ?? servers.ours!).issuer), client, sink, mailTimeoutMs: 15_000, full: true });
    const contexts: Record<ServerKind, FlowContext> = {
      ours: likeOurs('ours'),
      floor: { target: new Target(servers.floor.issuer), client, sink, mailTimeoutMs: 15_000 },
      bare: { target: new Target(servers.bare.issuer), client, sink: null, mailTimeoutMs: 0 },
      metrics: likeOurs('metrics'),
      webhooks: likeOurs('webhooks'),
      plugin: likeOurs('plugin'),
      posts: likeOurs('posts'),
    };
    // Every contender but bare takes ours' flow (bare has no magic link).
    const flowOf = (kind: ServerKind) => (kind === 'bare' ? bareFlow : magicLinkFlow);
    const memoryAt = async (label: string, signIns: Record<ServerKind, number>) => {
      for (const kind of kinds) {
        const stats = await servers[kind]!.stats(true);
        results.memory.push({ server: kind, at: label, signIns: signIns[kind], rssMiB: mib(stats.rss), heapUsedMiB: mib(stats.heapUsed) });
      }
    };
    const signIns = perKind(() => 0);
    await memoryAt('start', signIns);

    const refreshTokens = perKind((): string[] => []);
    const flowStep = (kind: ServerKind, workers: number) => async (worker: number, iteration: number, samples: Samples) => {
      const t0 = performance.now();
      try {
        const refresh = await flowOf(kind)(contexts[kind], emailFor(worker, iteration, workers));
        samples.add(performance.now() - t0);
        signIns[kind] += 1;
        refreshTokens[kind][worker] = refresh;
      } catch (err) {
        samples.fail(reasonOf(err));
      }
    };

    if (settings.only.has('flows') || settings.only.has('refresh')) {
      for (const kind of kinds) {
        log(`warm-up ${kind}: ${settings.warmupS}s`);
        await measure(servers[kind]!, Math.max(settings.warmupS, 0.5), settings.concurrency, flowStep(kind, settings.concurrency));
      }
    }
    if (settings.only.has('flows')) {
      // One accumulator per contender, summed over the rounds.
      const acc = Object.fromEntries(kinds.map((kind) => [kind, { samples: new Samples(), totals: noTotals() }])) as Record<ServerKind, { samples: Samples; totals: Totals }>;
      // Every request's latency by its template (GET /interaction/:id …), per server: the target is p99 < 50 ms each.
      const requestSamples = new Map<string, Samples>();
      const seconds = settings.durationS / settings.rounds;
      const flowRound = async (kind: ServerKind, round_: number): Promise<void> => {
        log(`hosted flows ${kind}, round ${round_}/${settings.rounds}: ${round(seconds)}s at concurrency ${settings.concurrency}`);
        const target = contexts[kind].target;
        target.onAnswer = (template, ms) => {
          const key = `${kind}\u0000${template}`;
          if (!requestSamples.has(key)) requestSamples.set(key, new Samples());
          requestSamples.get(key)!.add(ms);
        };
        const [okBefore, cpuBefore, systemBefore] = [acc[kind].samples.ok, acc[kind].totals.cpuMs, acc[kind].totals.systemMs];
        await measure(servers[kind]!, seconds, settings.concurrency, flowStep(kind, settings.concurrency), acc[kind].samples, acc[kind].totals);
        target.onAnswer = null;
        // Each round's own figure, to tell a run's noise from a difference between servers.
        const flows = Math.max(1, acc[kind].samples.ok - okBefore);
        const perFlow = round((acc[kind].totals.cpuMs - cpuBefore) / flows, 3);
        (results.flowRounds[kind] ??= []).push(perFlow);
        log(`  ${kind}: ${perFlow} ms of server CPU per flow this round, ${round((acc[kind].totals.systemMs - systemBefore) / flows, 3)} of it in the kernel`);
      };
      for (let round_ = 1; round_ <= settings.rounds; round_ += 1) {
        if (settings.together) await Promise.all(roundOrder(round_).map((kind) => flowRound(kind, round_)));
        else for (const kind of roundOrder(round_)) await flowRound(kind, round_);
      }
      for (const [key, samples] of requestSamples) {
        const [server = '', request = ''] = key.split('\u0000');
        const { count, p50, p99 } = samples.summary();
        results.requests.push({ server, request, count, p50, p99 });
      }
      const ours = toMeasure(`hosted sign-in, ours (${oursRun(settings.concurrency)})`, acc.ours.samples, acc.ours.totals, { server: 'ours' });
      const floor = toMeasure(`same flow, the least magic link (c=${settings.concurrency})`, acc.floor.samples, acc.floor.totals, { server: 'floor' });
      const bare = toMeasure(`no magic link, bare oidc-provider (c=${settings.concurrency})`, acc.bare.samples, acc.bare.totals, { server: 'bare' });
      results.flows.push(ours, floor, bare);
      results.headline = {
        flowsPerSecondRatio: round(ours.perSecond / bare.perSecond, 2),
        cpuPerFlowRatio: round(ours.serverCpuMsPerOp / bare.serverCpuMsPerOp, 2),
        cpuPerFlowRatioToFloor: round(ours.serverCpuMsPerOp / floor.serverCpuMsPerOp, 2),
      };
      for (const kind of variants) {
        const measured = toMeasure(`hosted sign-in, ours with ${VARIANT_LABEL[kind]} (${oursRun(settings.concurrency)})`, acc[kind].samples, acc[kind].totals, { server: kind });
        results.flows.push(measured);
        const ratio = HEADLINE_RATIO[kind];
        if (ratio) results.headline[ratio] = round(measured.serverCpuMsPerOp / ours.serverCpuMsPerOp, 3);
      }
      if (settings.plugin) {
        const hosted = toMeasure(`same flow, the plugin in a Koa host (c=${settings.concurrency})`, acc.plugin.samples, acc.plugin.totals, { server: 'plugin' });
        results.flows.push(hosted);
        results.headline.pluginCpuPerFlowRatioToFloor = round(hosted.serverCpuMsPerOp / floor.serverCpuMsPerOp, 2);
      }
      await memoryAt('after flows', signIns);
    }

    if (settings.only.has('refresh')) {
      for (const kind of kinds) {
        const tokens = refreshTokens[kind].filter(Boolean);
        if (tokens.length === 0) {
          results.refresh.push({ ...toMeasure(`refresh grants, ${kind}`, new Samples(), { ...noTotals(), elapsedMs: 1 }), note: 'no refresh tokens from the flow phase' });
          continue;
        }
        log(`refresh grants ${kind}: ${settings.refreshDurationS}s at concurrency ${tokens.length}`);
        const { samples, totals } = await measure(servers[kind]!, settings.refreshDurationS, tokens.length, async (worker, _i, s) => {
          const t0 = performance.now();
          try {
            tokens[worker] = await refreshGrant(contexts[kind], tokens[worker] ?? '');
            s.add(performance.now() - t0);
          } catch (err) {
            s.fail(reasonOf(err));
          }
        });
        results.refresh.push(toMeasure(`refresh grants, ${kind} (${kind === 'ours' ? oursRun(tokens.length) : `c=${tokens.length}`})`, samples, totals, { server: kind }));
      }
    }

    if (settings.only.has('api')) {
      const target = contexts.ours.target;
      const probe = await apiPair(target, apiKey, BENCH_CLIENT_ID, benchEmail(0), true).catch((err: unknown) => err);
      if (probe && typeof probe === 'object' && 'kind' in probe && probe.kind === 'unavailable') {
        results.apiStatus = 'not available (POST /api/passwordless/start answered 404: the REST API is not in this build)';
        log(`API pairs: ${results.apiStatus}`);
      } else {
        results.apiStatus = probe instanceof Error ? `probe failed: ${reasonOf(probe)}` : 'measured';
        // Unrecorded pairs of both kinds first: the first variant measured should not pay the JIT's warm-up alone.
        for (const kind of ourKinds) {
          log(`warm-up API pairs, ${kind}: ${settings.warmupS}s`);
          await measure(servers[kind]!, Math.max(settings.warmupS, 0.5), settings.apiConcurrency, async (worker, iteration) => {
            await apiPair(contexts[kind].target, apiKey, BENCH_CLIENT_ID, emailFor(worker, iteration, settings.apiConcurrency), iteration % 2 === 0).catch(() => undefined);
          });
        }
        for (const [noJWT, kind] of [true, false].flatMap((jwt) => ourKinds.map((k) => [jwt, k] as const))) {
          const single = new Samples();
          const pairTarget = contexts[kind].target;
          log(`API pairs ${noJWT ? 'noJWT' : 'JWT'}, ${kind}: ${settings.apiDurationS}s at concurrency ${settings.apiConcurrency}`);
          const { samples, totals } = await measure(servers[kind]!, settings.apiDurationS, settings.apiConcurrency, async (worker, iteration, s) => {
            const t0 = performance.now();
            try {
              const outcome = await apiPair(pairTarget, apiKey, BENCH_CLIENT_ID, emailFor(worker, iteration, settings.apiConcurrency), noJWT);
              if (outcome.kind === 'unavailable') throw new FlowError('api start: HTTP 404');
              s.add(performance.now() - t0);
              single.add(outcome.startMs);
              single.add(outcome.loginMs);
            } catch (err) {
              s.fail(reasonOf(err));
            }
          });
          const label = `API start+login, ${noJWT ? 'noJWT' : 'signed JWT'}${VARIANT_LABEL[kind] ? `, ${VARIANT_LABEL[kind]}` : ''} (${oursRun(settings.apiConcurrency)})`;
          results.api.push(toMeasure(label, samples, totals, { server: kind, singleCall: single.summary() }));
        }
      }
    }
    if (settings.steps > 0) {
      for (const kind of kinds) {
        log(`server CPU by step, ${kind}: ${settings.steps} sequential flows`);
        results.steps.push(...(await cpuBySteps(kind, servers[kind]!, contexts[kind], flowOf(kind), settings.steps)));
      }
    }
    await memoryAt('end', signIns);

    if (settings.memorySignIns > 0) {
      log(`memory soak: ${settings.memorySignIns} sign-ins on ours at concurrency ${settings.concurrency}`);
      const soak = new Samples();
      const target = signIns.ours + settings.memorySignIns;
      let lastReport = signIns.ours;
      const step = flowStep('ours', settings.concurrency);
      const started = performance.now();
      await Promise.all(
        Array.from({ length: settings.concurrency }, async (_, worker) => {
          for (let i = 0; signIns.ours < target; i += 1) {
            await step(worker, i, soak);
            if (signIns.ours - lastReport >= Math.max(1000, settings.memorySignIns / 10)) {
              lastReport = signIns.ours;
              // A checkpoint every tenth: whether memory levels off once state expires, not only where it ends.
              const stats = await servers.ours!.stats(true);
              results.memory.push({ server: 'ours', at: `soak, ${signIns.ours} sign-ins`, signIns: signIns.ours, rssMiB: mib(stats.rss), heapUsedMiB: mib(stats.heapUsed) });
              log(`  ${signIns.ours} sign-ins (${round(soak.ok / ((performance.now() - started) / 1000))}/s), RSS ${mib(stats.rss)} MiB, heap ${mib(stats.heapUsed)} MiB`);
            }
          }
        }),
      );
      await memoryAt(`after ${settings.memorySignIns} more sign-ins`, signIns);
    }
  } finally {
    for (const server of Object.values(servers)) await server?.stop().catch(() => undefined);
    await sink.close();
    if (hooks) log(`webhook deliveries received: ${await hooks.received()}`);
    await hooks?.close();
    engine?.stop();
  }
  const driverCpu = process.cpuUsage(driverCpuStart);
  results.driverCpuSeconds = round((driverCpu.user + driverCpu.system) / 1e6);
  results.machine.loadAverageAfter = os.loadavg().map((v) => round(v, 2));
  writeFileSync(flags.out ?? path.join(here, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  console.log(renderReport(results));
  console.log(`\nwritten: ${path.relative(process.cwd(), flags.out ?? '')}${profileDir ? `; profiles in ${path.relative(process.cwd(), profileDir)}/ (npm run bench:profile -- bench/profiles/ours)` : ''}`);
}

/**
 * One user at a time, reading the server's CPU after every step: where ours spends more than
 * bare, request by request. The stats call's own cost is measured back to back and subtracted.
 */
async function cpuBySteps(
  kind: ServerKind,
  server: ServerHandle,
  context: FlowContext,
  flow: (ctx: FlowContext, email: string) => Promise<string>,
  flows: number,
): Promise<StepCpu[]> {
  let overhead = 0;
  for (let i = 0; i < 200; i += 1) overhead += cpuMs(await server.stats(), await server.stats());
  overhead /= 200;
  const totals = new Map<string, number>();
  const storeCalls = new Map<string, number>();
  const mainThread = new Map<string, number>();
  // With --profile, each step's monotonic-clock span (µs, the clock of V8's profile timestamps) goes to a file, so samples can be told apart by step.
  const spans: [string, number, number][] = [];
  const clock = () => Number(process.hrtime.bigint() / 1000n);
  let last = await server.stats();
  let began = clock();
  const mark = async (step: string) => {
    const ended = clock();
    const now = await server.stats();
    totals.set(step, (totals.get(step) ?? 0) + cpuMs(last, now) - overhead);
    for (const [counter, sums] of [['storeCalls', storeCalls], ['mainThreadCpuMs', mainThread]] as const) {
      const added = grew(last, now, counter);
      if (!Number.isNaN(added)) sums.set(step, (sums.get(step) ?? 0) + added);
    }
    spans.push([step, began, ended]);
    last = await server.stats();
    began = clock();
  };
  for (let i = 0; i < flows; i += 1) {
    last = await server.stats();
    began = clock();
    await flow({ ...context, mark }, benchEmail(i % settings.users));
  }
  if (settings.profile) {
    mkdirSync(path.join(here, 'profiles', kind), { recursive: true });
    writeFileSync(path.join(here, 'profiles', kind, 'steps.json'), JSON.stringify(spans));
  }
  return [...totals].map(([step, ms]) => ({
    server: kind,
    step,
    cpuMs: round(ms / flows, 3),
    ...(storeCalls.has(step) ? { storeCalls: round((storeCalls.get(step) ?? 0) / flows, 2) } : {}),
    ...(mainThread.has(step) ? { mainThreadMs: round((mainThread.get(step) ?? 0) / flows, 3) } : {}),
  }));
}

function mib(bytes: number): number {
  return round(bytes / 2 ** 20);
}

function gitCommit(): string {
  try {
    return execSync('git rev-parse --short HEAD', { cwd: here, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return 'unknown';
  }
}

function log(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

try {
  await main();
  process.exit(0);
} catch (err) {
  log(`failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
