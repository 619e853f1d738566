/**
 * The load generator's HTTP: node:http with keep-alive to 127.0.0.1 (the issuer's host name is
 * sent as Host), no redirect following, and a per-"browser" cookie jar that honours Path —
 * enough for node-oidc-provider's interaction and resume cookies. Deliberately small so the
 * driver spends little of the machine's CPU, and identical for ours and bare.
 */
import http from 'node:http';

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export class Target {
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 1024 });
  readonly port: number;
  readonly host: string;

  constructor(readonly origin: string) {
    const url = new URL(origin);
    this.port = Number(url.port);
    this.host = url.host;
  }

  request(method: string, pathOrUrl: string, headers: Record<string, string> = {}, body?: string): Promise<Reply> {
    const path = pathOrUrl.startsWith('http') ? pathOrUrl.slice(pathOrUrl.indexOf('/', 8)) : pathOrUrl;
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: this.port,
          method,
          path,
          agent: this.#agent,
          headers: {
            host: this.host,
            ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}),
            ...headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.#agent.destroy();
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
