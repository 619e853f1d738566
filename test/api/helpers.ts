import { startTestServer, type TestServer, type TestServerOptions } from '../helpers/server.js';
import { deepMerge } from '../../src/config/load.js';

export const ADMIN_KEY = 'admin-key-for-tests-with-every-permission';
export const START_KEY = 'start-only-key-for-tests-0000000000';

export const API_KEYS = [
  { key: ADMIN_KEY, description: 'everything', permissions: { '*': ['*'] } },
  { key: START_KEY, description: 'least privilege for the magic-link API', permissions: { '/api/passwordless/start': ['POST'] } },
];

/** The test server with two API keys configured. */
export function startApiServer(options: TestServerOptions = {}): Promise<TestServer> {
  return startTestServer({ ...options, config: deepMerge({ apiKeys: API_KEYS }, options.config ?? {}) });
}

export interface ApiAnswer {
  status: number;
  text: string;
  /** Parsed JSON, or null for an empty body. */
  json: Record<string, any> | null;
  headers: Headers;
}

/** One API call with fetch, as an integration would make it. */
export async function call(
  server: TestServer,
  method: string,
  path: string,
  options: { body?: unknown; raw?: string; key?: string | null; contentType?: string } = {},
): Promise<ApiAnswer> {
  const headers: Record<string, string> = {};
  if (options.key) headers.authorization = options.key;
  let body: string | undefined;
  if (options.raw !== undefined) body = options.raw;
  else if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
  const response = await fetch(`${server.issuer}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await response.text();
  return { status: response.status, text, json: text ? (JSON.parse(text) as Record<string, any>) : null, headers: response.headers };
}

/** POST /api/passwordless/start with the least-privilege key. */
export async function start(server: TestServer, body: Record<string, unknown>): Promise<ApiAnswer> {
  return call(server, 'POST', '/api/passwordless/start', { body, key: START_KEY });
}

/** POST /api/passwordless/login. */
export async function login(server: TestServer, body: Record<string, unknown>): Promise<ApiAnswer> {
  return call(server, 'POST', '/api/passwordless/login', { body });
}
