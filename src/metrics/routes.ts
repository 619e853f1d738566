/**
 * Route templates for metric labels: a request's path becomes the route it was served by
 * (`/magic/:code`, `/api/user/:userId`), never the path itself, which may carry a link code, an
 * id or an address. A path that matches no known route is `unmatched`, so what a stranger
 * types cannot add label values.
 */

/** The template label of a path no route of ours serves. */
export const UNMATCHED = 'unmatched';

interface Compiled {
  template: string;
  pattern: RegExp;
}

function compile(template: string): Compiled {
  const source = template
    .split('/')
    .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return { template, pattern: new RegExp(`^${source}/?$`, 'i') };
}

function firstSegment(path: string): string {
  const end = path.indexOf('/', 1);
  return (end === -1 ? path.slice(1) : path.slice(1, end)).toLowerCase();
}

/**
 * Maps request paths to the templates given (Koa router paths such as `/api/user/:userId`).
 * Templates are grouped by their first segment, so a request tests only the few that could
 * match; our routers match case-insensitively, and so does this.
 */
export class RouteTemplates {
  readonly #exact = new Map<string, string>();
  readonly #byFirst = new Map<string, Compiled[]>();

  constructor(templates: Iterable<string>) {
    for (const template of new Set(templates)) {
      if (!template.includes(':')) {
        this.#exact.set(template.toLowerCase(), template);
        continue;
      }
      const key = template.startsWith('/:') ? '' : firstSegment(template);
      const group = this.#byFirst.get(key) ?? [];
      group.push(compile(template));
      this.#byFirst.set(key, group);
    }
  }

  /** The template that serves `path` (no query string), or {@link UNMATCHED}. */
  templateOf(path: string): string {
    const lower = path.length > 1 && path.endsWith('/') ? path.slice(0, -1).toLowerCase() : path.toLowerCase();
    const exact = this.#exact.get(lower);
    if (exact) return exact;
    for (const { template, pattern } of this.#byFirst.get(firstSegment(lower)) ?? []) if (pattern.test(lower)) return template;
    for (const { template, pattern } of this.#byFirst.get('') ?? []) if (pattern.test(lower)) return template;
    return UNMATCHED;
  }
}
