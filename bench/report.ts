/** The shape of bench/results.json and the table printed at the end of a run. */
import { median, round } from './driver/stats.js';

export interface Measure {
  label: string;
  server?: string;
  perSecond: number;
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  errors: number;
  errorReasons: Record<string, number>;
  /** Server process CPU (user + system) per completed operation, in ms. */
  serverCpuMsPerOp: number;
  /** The server's main (JavaScript) thread's share of serverCpuMsPerOp; the rest is V8's helper threads (GC, compilation) and libuv's pool. NaN where the OS does not tell. */
  serverMainThreadMsPerOp?: number;
  /** The kernel's share of serverCpuMsPerOp (system time: socket reads and writes, loopback's network stack). */
  serverKernelMsPerOp?: number;
  /** The main thread's pauses for garbage collection per operation (part of serverMainThreadMsPerOp). */
  serverGcPauseMsPerOp?: number;
  /** Server CPU time over wall time: 1.0 = one core busy. */
  serverCores: number;
  seconds: number;
  /** API only: latency of each single call (start, login). */
  singleCall?: { count: number; p50: number; p95: number; p99: number; max: number };
  note?: string;
}

/** --steps: server CPU of one step of the flow, averaged over sequential flows. */
export interface StepCpu {
  server: string;
  step: string;
  cpuMs: number;
  /** Ours: store round trips per flow in this step. */
  storeCalls?: number;
  /** The main thread's share of cpuMs (Linux; 10 ms ticks, so only the whole flow's sum is worth reading). */
  mainThreadMs?: number;
}

/** One request of the hosted flows (its template: ids become `:id`), on one server. */
export interface RequestLatency {
  server: string;
  request: string;
  count: number;
  p50: number;
  p99: number;
}

export interface Results {
  startedAt: string;
  machine: {
    cpus: number;
    cpuModel: string;
    memoryGiB: number;
    node: string;
    platform: string;
    loadAverageBefore: number[];
    loadAverageAfter: number[];
  };
  commit: string;
  settings: Record<string, unknown>;
  store: string;
  flows: Measure[];
  /** The flows' single requests at the flows' concurrency: latency by request template and server. */
  requests: RequestLatency[];
  refresh: Measure[];
  api: Measure[];
  apiStatus: string;
  headline: { flowsPerSecondRatio: number; cpuPerFlowRatio: number; cpuPerFlowRatioToFloor?: number; metricsCpuPerFlowRatio?: number; webhooksCpuPerFlowRatio?: number; postsCpuPerFlowRatio?: number; pluginCpuPerFlowRatioToFloor?: number } | null;
  memory: { server: string; at: string; signIns: number; rssMiB: number; heapUsedMiB: number }[];
  steps: StepCpu[];
  /** Server CPU per hosted flow in each round, per contender (the rounds' spread is the run's noise). */
  flowRounds: Partial<Record<string, number[]>>;
  driverCpuSeconds: number;
}

function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((row) => row.map((cell) => (typeof cell === 'number' && Number.isNaN(cell) ? '-' : String(cell))))];
  const widths = header.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  const line = (row: string[]) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ');
  return [line(cells[0] ?? []), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

export function renderReport(results: Results): string {
  const { machine } = results;
  const out: string[] = [];
  out.push(
    `\n${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.platform}; commit ${results.commit}; store ${results.store}`,
    `load average before ${machine.loadAverageBefore.join(' ')}, after ${machine.loadAverageAfter.join(' ')}; driver CPU ${results.driverCpuSeconds} s\n`,
  );
  const measures = [...results.flows, ...results.refresh, ...results.api];
  out.push(
    table(
      ['', 'ops/s', 'p50 ms', 'p95 ms', 'p99 ms', 'ok', 'errors', 'server CPU ms/op', 'main thread', 'GC pauses', 'kernel', 'server cores'],
      measures.map((m) => [m.label, m.perSecond, m.p50, m.p95, m.p99, m.count, m.errors, m.serverCpuMsPerOp, m.serverMainThreadMsPerOp ?? NaN, m.serverGcPauseMsPerOp ?? NaN, m.serverKernelMsPerOp ?? NaN, m.serverCores]),
    ),
  );
  for (const m of measures) {
    if (m.errors > 0) out.push(`  errors in "${m.label}": ${JSON.stringify(m.errorReasons)}`);
    if (m.singleCall) out.push(`  single API call in "${m.label}": p50 ${m.singleCall.p50} ms, p95 ${m.singleCall.p95} ms, p99 ${m.singleCall.p99} ms`);
  }
  if (results.api.length === 0) out.push(`API pairs: ${results.apiStatus}`);
  if (results.headline) {
    out.push(
      `\nheadline: ours/floor server CPU per flow = ${results.headline.cpuPerFlowRatioToFloor ?? '-'} (target ≤ 1.0, at worst ≤ 1.25); ours/bare (no email at all) = ${results.headline.cpuPerFlowRatio}, flows per second ${results.headline.flowsPerSecondRatio}`,
    );
    if (results.headline.metricsCpuPerFlowRatio !== undefined) out.push(`metrics on ÷ off, server CPU per hosted flow = ${results.headline.metricsCpuPerFlowRatio} (budget ≤ 1.03)`);
    if (results.headline.pluginCpuPerFlowRatioToFloor !== undefined) out.push(`the plugin in a Koa host ÷ floor, server CPU per hosted flow = ${results.headline.pluginCpuPerFlowRatioToFloor} (target ≤ 1.1)`);
    if (results.headline.webhooksCpuPerFlowRatio !== undefined) out.push(`webhooks (every event) ÷ none, server CPU per hosted flow = ${results.headline.webhooksCpuPerFlowRatio} (budget ≤ 1.10)`);
    if (results.headline.postsCpuPerFlowRatio !== undefined) out.push(`one bare POST per event ÷ none, server CPU per hosted flow = ${results.headline.postsCpuPerFlowRatio} (what the 1.10 budget leaves after the POSTs alone)`);
    out.push(...roundRatioLines(results.flowRounds));
  }
  out.push(
    '\n' +
      table(
        ['memory', 'sign-ins', 'RSS MiB', 'heap used MiB (after GC)', 'heap KiB per sign-in since start'],
        results.memory.map((m) => {
          const start = results.memory.find((s) => s.server === m.server);
          const perSignIn = start && m.signIns > 0 ? round(((m.heapUsedMiB - start.heapUsedMiB) * 1024) / m.signIns, 2) : NaN;
          return [`${memoryOwner(results, m.server)} at ${m.at}`, m.signIns, m.rssMiB, m.heapUsedMiB, perSignIn];
        }),
      ),
  );
  const soak = soakGrowth(results);
  if (soak) out.push(soak);
  if (results.requests.length > 0) out.push('\n' + requestTable(results.requests));
  if (results.steps.length > 0) out.push('\n' + stepTable(results.steps));
  return out.join('\n');
}

/**
 * The soak's growth once state has had time to expire: from its second checkpoint (a fifth of
 * the way) to the end. The target (issue 21) is RSS flat, ≤ 5 %, with lifetimes capped (--ttl).
 */
function soakGrowth(results: Results): string | null {
  const checkpoints = results.memory.filter((m) => m.at.startsWith('soak,'));
  const end = results.memory.find((m) => m.at.startsWith('after ') && m.at.endsWith('more sign-ins'));
  const from = checkpoints[1];
  if (!from || !end) return null;
  const pct = (a: number, b: number) => `${b >= a ? '+' : ''}${round((100 * (b - a)) / a, 1)} %`;
  return `soak from ${from.signIns} to ${end.signIns} sign-ins: RSS ${from.rssMiB} → ${end.rssMiB} MiB (${pct(from.rssMiB, end.rssMiB)}), heap ${from.heapUsedMiB} → ${end.heapUsedMiB} MiB (${pct(from.heapUsedMiB, end.heapUsedMiB)}) (target with --ttl: RSS ≤ +5 %)`;
}

/** A cluster's memory is the sum over its workers: the label says so. */
function memoryOwner(results: Results, server: string): string {
  const workers = Number(results.settings.workers ?? 1);
  return server === 'ours' && workers > 1 ? `ours (sum of ${workers} workers)` : server;
}

/** Each request of the hosted flows, p50 / p99 ms per server (the target: p99 < 50 ms for every one). */
function requestTable(requests: RequestLatency[]): string {
  const servers = [...new Set(requests.map((r) => r.server))];
  const templates = [...new Set(requests.map((r) => r.request))];
  const cell = (server: string, request: string) => {
    const found = requests.find((r) => r.server === server && r.request === request);
    return found ? `${found.p50} / ${found.p99}` : '-';
  };
  return table(['hosted requests, p50 / p99 ms', ...servers], templates.map((request) => [request, ...servers.map((server) => cell(server, request))]));
}

/** The pairs of the headline, round by round: each round's ratio and their median, which one slow round cannot move. */
function roundRatioLines(rounds: Results['flowRounds']): string[] {
  const pairs: Array<[string, string]> = [['ours', 'floor'], ['plugin', 'floor'], ['metrics', 'ours'], ['webhooks', 'ours'], ['posts', 'ours']];
  const lines: string[] = [];
  for (const [a, b] of pairs) {
    const [mine, theirs] = [rounds[a], rounds[b]];
    if (!mine || !theirs || mine.length < 2) continue;
    const ratios = mine.map((value, i) => round(value / (theirs[i] ?? NaN), 2));
    lines.push(`  ${a} ÷ ${b} round by round: ${ratios.join(', ')}; median ${round(median(ratios), 3)}`);
  }
  return lines;
}

/** Steps side by side: ours and the floor take the same steps; bare shares the first and the last. */
function stepTable(steps: StepCpu[]): string {
  const names = [...new Set(steps.map((s) => s.step))];
  const servers = ['ours', 'metrics', 'webhooks', 'posts', 'plugin', 'floor', 'bare'].filter((server) => steps.some((s) => s.server === server));
  const of = (server: string, step: string) => steps.find((s) => s.server === server && s.step === step)?.cpuMs ?? NaN;
  const sum = (server: string) => round(steps.filter((s) => s.server === server).reduce((total, s) => total + s.cpuMs, 0), 3);
  const calls = (step: string | null) => {
    const mine = steps.filter((s) => s.server === 'ours' && (step === null || s.step === step) && s.storeCalls !== undefined);
    return mine.length === 0 ? NaN : round(mine.reduce((total, s) => total + (s.storeCalls ?? 0), 0), 2);
  };
  // The main thread's part of the whole flow: the rest is V8's helper threads (concurrent GC, compilation) and libuv's pool.
  const mainOf = (server: string) => {
    const mine = steps.filter((s) => s.server === server);
    return mine.every((s) => s.mainThreadMs !== undefined) ? round(mine.reduce((total, s) => total + (s.mainThreadMs ?? 0), 0), 3) : NaN;
  };
  const threadRows = servers.some((server) => !Number.isNaN(mainOf(server)))
    ? [
        ['  of which the main thread', ...servers.map(mainOf), NaN],
        ['  of which other threads', ...servers.map((server) => round(sum(server) - mainOf(server), 3)), NaN],
      ]
    : [];
  return table(
    ['server CPU ms by step (one user at a time)', ...servers, 'ours: store calls'],
    [...names.map((name) => [name, ...servers.map((server) => of(server, name)), calls(name)]), ['whole flow', ...servers.map(sum), calls(null)], ...threadRows],
  );
}
