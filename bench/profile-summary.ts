/**
 * `npm run bench:profile -- <profile | folder> [top] [--step NAME] [--against FOLDER] [--callers NAME]`
 *
 * Reads V8 CPU profiles written by `npm run bench -- --profile` (a folder means its largest
 * profile: the main thread's).
 *
 * - By default: self time per area (our src/, node-oidc-provider, other packages, Node internals,
 *   GC) and per function, and our own functions' inclusive time.
 * - `--step NAME`: only the samples taken during that step of a profiled `--steps` run, read
 *   from the steps.json written next to the profile. Times are then also given per flow.
 * - `--against FOLDER`: the difference, function by function (self time, ms per flow), between
 *   this profile and another contender's from the same run (`bench/profiles/floor`), largest
 *   first: where one server spends more than the other.
 * - `--callers NAME`: the call paths into every function named NAME, by inclusive time.
 * - `--owners`: time by who asked for it: each sample goes to the nearest package or folder of
 *   src/ on its stack, so Node's internals (streams, sockets, timers) count for whoever called
 *   them. With `--against`, side by side with the other profile.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** A profile with its samples' self time per node, restricted to one step when asked. */
interface Loaded {
  file: string;
  byId: Map<number, ProfileNode>;
  parent: Map<number, number>;
  self: Map<number, number>;
  /** How many flows the samples cover (spans of the step), or null without steps.json. */
  flows: number | null;
}

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: { step: { type: 'string' }, against: { type: 'string' }, callers: { type: 'string' }, owners: { type: 'boolean', default: false } },
});
const given = positionals[0];
const top = Number(positionals[1] ?? 30);
if (!given) {
  console.error('usage: npm run bench:profile -- <file.cpuprofile | folder> [top] [--step NAME] [--against FOLDER] [--callers NAME]');
  process.exit(2);
}

function largestProfile(fileOrFolder: string): string {
  if (!statSync(fileOrFolder).isDirectory()) return fileOrFolder;
  const file = readdirSync(fileOrFolder)
    .filter((name) => name.endsWith('.cpuprofile'))
    .map((name) => path.join(fileOrFolder, name))
    .sort((a, b) => statSync(b).size - statSync(a).size)[0];
  if (!file) throw new Error(`no .cpuprofile in ${fileOrFolder}`);
  return file;
}

/** The steps' spans ([name, from µs, to µs] on V8's monotonic clock), or null when the run wrote none. */
function readSpans(profileFile: string): [string, number, number][] | null {
  try {
    return JSON.parse(readFileSync(path.join(path.dirname(profileFile), 'steps.json'), 'utf8')) as [string, number, number][];
  } catch {
    return null;
  }
}

function load(fileOrFolder: string, step: string | undefined): Loaded {
  const file = largestProfile(fileOrFolder);
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const allSpans = readSpans(file);
  const spans = step ? (allSpans ?? []).filter(([name]) => name === step).sort((a, b) => a[1] - b[1]) : null;
  if (spans && spans.length === 0) throw new Error(`no step named ${JSON.stringify(step)} in ${path.dirname(file)}/steps.json`);
  const flows = spans ? spans.length : allSpans ? allSpans.length / new Set(allSpans.map(([name]) => name)).size : null;
  const self = new Map<number, number>();
  let clock = profile.startTime;
  let next = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    clock += delta;
    if (spans) {
      // Samples come in time order: walk the spans alongside them.
      while (next < spans.length && spans[next]![2] < clock) next += 1;
      if (!(next < spans.length && spans[next]![1] <= clock)) return;
    }
    self.set(id, (self.get(id) ?? 0) + delta);
  });
  return { file, byId, parent, self, flows };
}

function isIdle(frame: CallFrame): boolean {
  return frame.functionName === '(idle)';
}

function area(frame: CallFrame): string {
  const { url, functionName: name } = frame;
  if (name === '(idle)' || name === '(program)' || name === '(garbage collector)') return name;
  if (url.includes('/node_modules/oidc-provider/')) return 'oidc-provider';
  const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1];
  if (pkg) return pkg;
  if (url.includes('/src/')) return 'ours (src/)';
  if (url.includes('/bench/')) return 'bench harness';
  if (url.startsWith('node:') || url === '') return 'node internals';
  return 'other';
}

function label(frame: CallFrame): string {
  const where = frame.url.replace(/^.*\/node_modules\//, '').replace(/^.*\/(src|bench|views)\//, '$1/');
  return `${frame.functionName || '(anonymous)'}  ${where}:${frame.lineNumber + 1}`;
}

/** Self time (µs) per function label, idle left out. */
function selfByFunction(loaded: Loaded): Map<string, number> {
  const functions = new Map<string, number>();
  for (const [id, micros] of loaded.self) {
    const frame = loaded.byId.get(id)?.callFrame;
    if (!frame || isIdle(frame)) continue;
    functions.set(label(frame), (functions.get(label(frame)) ?? 0) + micros);
  }
  return functions;
}

function sum(values: Iterable<number>): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}

function summary(loaded: Loaded): void {
  const areas = new Map<string, number>();
  for (const [id, micros] of loaded.self) {
    const frame = loaded.byId.get(id)?.callFrame;
    if (!frame) continue;
    areas.set(area(frame), (areas.get(area(frame)) ?? 0) + micros);
  }
  const total = sum(areas.values());
  const busy = total - (areas.get('(idle)') ?? 0);
  const pct = (micros: number) => `${((100 * micros) / busy).toFixed(1).padStart(5)}%`;
  const perFlow = loaded.flows && flags.step ? `, ${(busy / 1000 / loaded.flows).toFixed(3)} ms busy per flow over ${loaded.flows} flows` : '';
  console.log(`${loaded.file}${flags.step ? ` (step ${flags.step})` : ''}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy${perFlow} (percentages of busy time)\n`);
  console.log('by area:');
  for (const [name, micros] of [...areas].filter(([n]) => n !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`  ${pct(micros)}  ${name}`);
  console.log(`\ntop ${top} functions by self time:`);
  for (const [name, micros] of [...selfByFunction(loaded)].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(micros)}  ${name}`);

  // Inclusive time of our own functions: where in src/ the time is spent, callees included.
  const inclusive = new Map<string, number>();
  for (const [id, micros] of loaded.self) {
    const seen = new Set<string>();
    for (let current: number | undefined = id; current !== undefined; current = loaded.parent.get(current)) {
      const frame = loaded.byId.get(current)?.callFrame;
      if (!frame || !frame.url.includes('/src/')) continue;
      const key = label(frame);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + micros);
    }
  }
  console.log(`\ntop ${top} of our functions by inclusive time (callees included):`);
  for (const [name, micros] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(micros)}  ${name}`);
}

/** Who a frame belongs to: a package, a folder of src/, the views, the bench; null for Node's own code. */
function ownerOf(frame: CallFrame): string | null {
  const { url, functionName: name } = frame;
  if (name === '(idle)' || name === '(program)' || name === '(garbage collector)') return name;
  const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1];
  if (pkg) return pkg;
  if (url.includes('/src/')) return `src/${url.replace(/^.*\/src\//, '').split('/')[0] ?? ''}`;
  if (url.includes('/views/')) return 'views';
  if (url.includes('/bench/')) return 'bench harness';
  return null;
}

/** Busy time (µs) by owner: each sample to the nearest owned frame on its stack. */
function timeByOwner(loaded: Loaded): Map<string, number> {
  const owners = new Map<string, number>();
  for (const [id, micros] of loaded.self) {
    let owner: string | null = null;
    for (let current: number | undefined = id; current !== undefined && owner === null; current = loaded.parent.get(current)) {
      const frame = loaded.byId.get(current)?.callFrame;
      owner = frame ? ownerOf(frame) : null;
    }
    if (owner === '(idle)') continue;
    owner ??= 'Node, called by no JavaScript (I/O callbacks)';
    owners.set(owner, (owners.get(owner) ?? 0) + micros);
  }
  return owners;
}

function owners(loaded: Loaded, other: Loaded | null): void {
  const perFlow = (l: Loaded) => (micros: number) => micros / 1000 / (l.flows ?? 1);
  const mine = timeByOwner(loaded);
  const theirs = other ? timeByOwner(other) : new Map<string, number>();
  const unit = loaded.flows ? 'ms per flow' : 'ms in all';
  console.log(`${loaded.file}${other ? ` against ${other.file}` : ''}${flags.step ? `, step ${flags.step}` : ''}: busy time by who asked for it (${unit})\n`);
  const rows = [...new Set([...mine.keys(), ...theirs.keys()])].map((key) => ({ key, x: perFlow(loaded)(mine.get(key) ?? 0), y: other ? perFlow(other)(theirs.get(key) ?? 0) : 0 }));
  rows.push({ key: 'all', x: perFlow(loaded)(sum(mine.values())), y: other ? perFlow(other)(sum(theirs.values())) : 0 });
  for (const { key, x, y } of rows.sort((p, q) => q.x - p.x).slice(0, top + 1)) console.log(`  ${x.toFixed(3).padStart(7)}${other ? `  ${y.toFixed(3).padStart(7)}` : ''}  ${key}`);
}

/** Self time per function, ms per flow, this profile against another's, largest excess first. */
function difference(loaded: Loaded, other: Loaded): void {
  const perFlow = (l: Loaded) => (micros: number) => micros / 1000 / (l.flows ?? 1);
  const [mine, theirs] = [selfByFunction(loaded), selfByFunction(other)];
  const [a, b] = [perFlow(loaded), perFlow(other)];
  const unit = loaded.flows && other.flows ? 'ms per flow' : 'ms in all (no steps.json: not per flow)';
  console.log(`${loaded.file} against ${other.file}${flags.step ? `, step ${flags.step}` : ''}: busy ${a(sum(mine.values())).toFixed(3)} against ${b(sum(theirs.values())).toFixed(3)} ${unit}\n`);
  console.log(`  ${'more'.padStart(7)}  ${'this'.padStart(6)}  ${'other'.padStart(6)}  function (self time)`);
  const rows = [...new Set([...mine.keys(), ...theirs.keys()])].map((key) => ({ key, x: a(mine.get(key) ?? 0), y: b(theirs.get(key) ?? 0) }));
  for (const { key, x, y } of rows.sort((p, q) => q.x - q.y - (p.x - p.y)).slice(0, top)) {
    console.log(`  ${(x - y).toFixed(3).padStart(7)}  ${x.toFixed(3).padStart(6)}  ${y.toFixed(3).padStart(6)}  ${key}`);
  }
}

/** Inclusive time of the functions named `name`, by the call path into them (four callers deep). */
function callers(loaded: Loaded, name: string): void {
  const named = (id: number) => (loaded.byId.get(id)?.callFrame.functionName ?? '') === name;
  const inclusive = (id: number): number => (loaded.self.get(id) ?? 0) + sum((loaded.byId.get(id)?.children ?? []).map(inclusive));
  const paths = new Map<string, number>();
  for (const node of loaded.byId.values()) {
    if (!named(node.id)) continue;
    let nested = false;
    for (let up = loaded.parent.get(node.id); up !== undefined && !nested; up = loaded.parent.get(up)) nested = named(up);
    if (nested) continue;
    const chain: string[] = [];
    for (let up = loaded.parent.get(node.id); up !== undefined && chain.length < 4; up = loaded.parent.get(up)) chain.push(label(loaded.byId.get(up)!.callFrame));
    const key = chain.join('  <-  ');
    paths.set(key, (paths.get(key) ?? 0) + inclusive(node.id));
  }
  console.log(`${loaded.file}: callers of ${name}${flags.step ? ` during step ${flags.step}` : ''} (inclusive ms)\n`);
  for (const [chain, micros] of [...paths].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${(micros / 1000).toFixed(1).padStart(8)}  ${chain}`);
}

const loaded = load(given, flags.step);
if (flags.owners) owners(loaded, flags.against ? load(flags.against, flags.step) : null);
else if (flags.callers) callers(loaded, flags.callers);
else if (flags.against) difference(loaded, load(flags.against, flags.step));
else summary(loaded);
