import { spawnSync } from 'node:child_process';

export interface Sample {
  /** The sample's own name: `x_total`, or a histogram's `x_bucket`, `x_sum`, `x_count`. */
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: string;
  samples: Sample[];
}

export type Families = Family[];

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function unescape(value: string): string {
  return value.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

/**
 * The samples of a scrape, grouped by the family their `# TYPE` line declares. Reads what the
 * tests need; {@link prometheusParserFamilies} checks the text with Prometheus's own client parser.
 */
export function parseMetrics(text: string): Families {
  const families: Families = [];
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) families.push({ name: type[1]!, type: type[2]!.toUpperCase(), samples: [] });
    if (line === '' || line.startsWith('#')) continue;
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const family = families.at(-1);
    if (!family || !match[1]!.startsWith(family.name)) throw new Error(`sample outside its family: ${line}`);
    const labels = Object.fromEntries([...(match[2] ?? '').matchAll(LABEL)].map((m) => [m[1]!, unescape(m[2]!)]));
    family.samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return families;
}

/** The sum of the samples named `name` (a histogram's: `x_count`) whose labels include `labels`; 0 when there are none yet. */
export function valueOf(families: Families, name: string, labels: Record<string, string> = {}): number {
  const family = families.find((f) => f.name === name);
  const sampleName = family?.type === 'HISTOGRAM' ? `${name}_count` : name;
  return (family?.samples ?? [])
    .filter((s) => s.name === sampleName && Object.entries(labels).every(([key, value]) => s.labels[key] === value))
    .reduce((sum, s) => sum + s.value, 0);
}

/** Every label value in a scrape, with the family it belongs to. */
export function labelValues(families: Families): { series: string; label: string; value: string }[] {
  return families.flatMap((family) => family.samples.flatMap((s) => Object.entries(s.labels).map(([label, value]) => ({ series: family.name, label, value }))));
}

const PYTHON_PARSE = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
print(json.dumps([{"name": f.name, "type": f.type, "samples": len(f.samples)} for f in text_string_to_metric_families(sys.stdin.read())]))
`;

/**
 * The families Prometheus's own Python client parser reads from `text` (it raises on text a
 * Prometheus server would refuse), or null where python3-prometheus-client is not installed.
 */
export function prometheusParserFamilies(text: string): { name: string; type: string; samples: number }[] | null {
  const run = spawnSync('/usr/bin/python3', ['-c', PYTHON_PARSE], { input: text, encoding: 'utf8' });
  if (run.error || /ModuleNotFoundError/.test(run.stderr)) return null;
  if (run.status !== 0) throw new Error(`the Prometheus parser refused the scrape:\n${run.stderr}`);
  return JSON.parse(run.stdout) as { name: string; type: string; samples: number }[];
}
