/**
 * `npm run bench:profile -- bench/profiles/ours [top]`: self time per function and
 * per area (our src/, node-oidc-provider, other packages, Node internals, GC/idle), from a
 * V8 CPU profile written by `npm run bench -- --profile`.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const given = process.argv[2];
/** A folder means its largest profile: the main thread's (the loader thread's is small). */
const file =
  given && statSync(given).isDirectory()
    ? readdirSync(given)
        .filter((name) => name.endsWith('.cpuprofile'))
        .map((name) => path.join(given, name))
        .sort((a, b) => statSync(b).size - statSync(a).size)[0]
    : given;
const top = Number(process.argv[3] ?? 30);
if (!file) {
  console.error('usage: npm run bench:profile -- <file.cpuprofile | folder> [top]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const self = new Map<number, number>();
profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));

function area(url: string, name: string): string {
  if (name === '(idle)' || name === '(program)' || name === '(garbage collector)') return name;
  if (url.includes('/node_modules/oidc-provider/')) return 'oidc-provider';
  const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1];
  if (pkg) return pkg;
  if (url.includes('/src/')) return 'ours (src/)';
  if (url.includes('/bench/')) return 'bench harness';
  if (url.startsWith('node:') || url === '') return 'node internals';
  return 'other';
}

const functions = new Map<string, number>();
const areas = new Map<string, number>();
let total = 0;
for (const [id, micros] of self) {
  const node = byId.get(id);
  if (!node) continue;
  const { functionName, url, lineNumber } = node.callFrame;
  const name = functionName || '(anonymous)';
  const where = url.replace(/^.*\/node_modules\//, '').replace(/^.*\/(src|bench)\//, '$1/');
  const key = `${name}  ${where}:${lineNumber + 1}`;
  functions.set(key, (functions.get(key) ?? 0) + micros);
  const a = area(url, name);
  areas.set(a, (areas.get(a) ?? 0) + micros);
  total += micros;
}
const busy = total - (areas.get('(idle)') ?? 0);
const pct = (micros: number) => `${((100 * micros) / busy).toFixed(1).padStart(5)}%`;
console.log(`${file}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy (percentages of busy time)\n`);
console.log('by area:');
for (const [name, micros] of [...areas].filter(([n]) => n !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`  ${pct(micros)}  ${name}`);
console.log(`\ntop ${top} functions by self time:`);
for (const [name, micros] of [...functions].filter(([n]) => !n.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`  ${pct(micros)}  ${name}`);
}

/** Inclusive time of our own functions: where in src/ the time is spent, callees included. */
const parent = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
const inclusive = new Map<string, number>();
for (const [id, micros] of self) {
  const seen = new Set<string>();
  for (let current: number | undefined = id; current !== undefined; current = parent.get(current)) {
    const node = byId.get(current);
    if (!node || !node.callFrame.url.includes('/src/')) continue;
    const key = `${node.callFrame.functionName || '(anonymous)'}  ${node.callFrame.url.replace(/^.*\/src\//, 'src/')}:${node.callFrame.lineNumber + 1}`;
    if (seen.has(key)) continue;
    seen.add(key);
    inclusive.set(key, (inclusive.get(key) ?? 0) + micros);
  }
}
console.log(`\ntop ${top} of our functions by inclusive time (callees included):`);
for (const [name, micros] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(micros)}  ${name}`);
