/**
 * The load generator's HTTP: undici's connection pool with keep-alive to 127.0.0.1 (the
 * issuer's host name is sent as Host), no redirect following, and a per-"browser" cookie jar
 * that honours Path — enough for node-oidc-provider's interaction and resume cookies. The driver
 * shares the machine with the server under test: with node:http's client the driver, not the
 * server, limited the API phase (the server used 0.64 of a core); with undici the server is the
 * limit. The same client serves ours and bare.
 */
import { Pool } from 'undici';

export interface Reply {
  status: number;
  headers: { location?: string; 'set-cookie'?: string[] };
  body: string;
}

/** The request's path as a template: ids, codes and tokens (long path segments) become `:id`, the query goes. */
export function requestTemplate(method: string, path: string): string {
  const bare = path.split('?', 1)[0] ?? path;
  return `${method} ${bare.replace(/\/[\w-]{16,}(?=\/|$)/g, '/:id')}`;
}

export class Target {
  readonly #pool: Pool;
  readonly host: string;
  /** When set, told of every answered request: its template (see requestTemplate) and its latency, headers to body. */
  onAnswer: ((template: string, ms: number) => void) | null = null;

  constructor(readonly origin: string) {
    const url = new URL(origin);
    this.host = url.host;
    this.#pool = new Pool(`http://127.0.0.1:${url.port}`, { connections: 256, pipelining: 1 });
  }

  async request(method: string, pathOrUrl: string, headers: Record<string, string> = {}, body?: string): Promise<Reply> {
    const path = pathOrUrl.startsWith('http') ? pathOrUrl.slice(pathOrUrl.indexOf('/', 8)) : pathOrUrl;
    const sent = performance.now();
    const response = await this.#pool.request({
      method: method as 'GET' | 'POST',
      path,
      headers: { host: this.host, ...headers },
      ...(body !== undefined ? { body } : {}),
    });
    const text = await response.body.text();
    this.onAnswer?.(requestTemplate(method, path), performance.now() - sent);
    const cookies = response.headers['set-cookie'];
    const location = response.headers.location;
    return {
      status: response.statusCode,
      headers: {
        ...(typeof location === 'string' ? { location } : {}),
        ...(cookies !== undefined ? { 'set-cookie': Array.isArray(cookies) ? cookies : [cookies] } : {}),
      },
      body: text,
    };
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}

interface Cookie {
  value: string;
  path: string;
}

/** One browser's cookies for one origin. */
export class Jar {
  readonly #cookies = new Map<string, Cookie>();

  store(reply: Reply): void {
    for (const line of reply.headers['set-cookie'] ?? []) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = '/';
      let expired = value === '';
      for (const attribute of attributes) {
        const [key = '', val = ''] = attribute.split('=');
        const k = key.trim().toLowerCase();
        if (k === 'path') path = val.trim() || '/';
        else if (k === 'max-age' && Number(val) <= 0) expired = true;
        else if (k === 'expires' && Date.parse(val) <= Date.now()) expired = true;
      }
      const key = `${name};${path}`;
      if (expired) this.#cookies.delete(key);
      else this.#cookies.set(key, { value: `${name}=${value}`, path });
    }
  }

  header(path: string): Record<string, string> {
    const pathname = path.split('?')[0] ?? '/';
    const out: string[] = [];
    for (const cookie of this.#cookies.values()) {
      if (cookie.path === '/' || pathname === cookie.path || pathname.startsWith(`${cookie.path}/`)) out.push(cookie.value);
    }
    return out.length > 0 ? { cookie: out.join('; ') } : {};
  }
}

/** A request as a browser makes it: cookies sent and kept. */
export async function browse(target: Target, jar: Jar, method: string, url: string, form?: Record<string, string>): Promise<Reply> {
  const path = url.startsWith('http') ? url.slice(url.indexOf('/', 8)) : url;
  const headers: Record<string, string> = { 'user-agent': 'oidc-magic-link-bench/1.0', ...jar.header(path) };
  let body: string | undefined;
  if (form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(form).toString();
  }
  const reply = await target.request(method, path, headers, body);
  jar.store(reply);
  return reply;
}
