import { CookieJar } from 'tough-cookie';

export interface Page {
  status: number;
  url: string;
  headers: Headers;
  body: string;
  /** Every URL visited, in order, including redirects. */
  chain: string[];
}

/**
 * A tiny browser: fetch with a cookie jar that honours Path/SameSite as tough-cookie does,
 * following redirects itself so every hop's cookies are kept. Stops at URLs outside `origin`
 * (the client's redirect URI) without fetching them.
 */
export class Browser {
  readonly jar = new CookieJar();

  constructor(
    readonly origin: string,
    private readonly userAgent = 'Mozilla/5.0 (X11; Linux x86_64) TestBrowser/1.0',
    /** Headers sent on every request and every redirect hop, as a browser sends Accept-Language. */
    private readonly defaults: Record<string, string> = {},
  ) {}

  async get(url: string, init: { method?: string; headers?: Record<string, string> } = {}): Promise<Page> {
    return this.#request(url, { method: init.method ?? 'GET', headers: init.headers ?? {} });
  }

  async post(url: string, form: Record<string, string>): Promise<Page> {
    return this.#request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });
  }

  /** Submits the first form on `page` whose action contains `actionPart`, with its hidden fields plus `fields`. */
  async submit(page: Page, actionPart: string, fields: Record<string, string> = {}): Promise<Page> {
    const form = findForm(page.body, actionPart);
    if (!form) throw new Error(`no form with action containing ${actionPart} on ${page.url}`);
    return this.post(new URL(form.action, page.url).href, { ...form.hidden, ...fields });
  }

  async #request(url: string, init: { method: string; headers: Record<string, string>; body?: string }): Promise<Page> {
    const chain: string[] = [];
    let current = new URL(url, this.origin).href;
    let { method, body } = init;
    let headers = { ...init.headers };
    for (let hop = 0; hop < 20; hop += 1) {
      chain.push(current);
      if (!current.startsWith(this.origin)) {
        return { status: 0, url: current, headers: new Headers(), body: '', chain };
      }
      const cookie = await this.jar.getCookieString(current);
      const response = await fetch(current, {
        method,
        redirect: 'manual',
        headers: { 'user-agent': this.userAgent, ...this.defaults, ...headers, ...(cookie ? { cookie } : {}) },
        ...(body !== undefined ? { body } : {}),
      });
      for (const setCookie of response.headers.getSetCookie()) await this.jar.setCookie(setCookie, current, { ignoreError: true });
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location) {
        current = new URL(location, current).href;
        if (response.status !== 307 && response.status !== 308) {
          method = 'GET';
          body = undefined;
          headers = {};
        }
        await response.arrayBuffer();
        continue;
      }
      return { status: response.status, url: current, headers: response.headers, body: await response.text(), chain };
    }
    throw new Error('too many redirects');
  }
}

export function findForm(html: string, actionPart: string): { action: string; hidden: Record<string, string> } | null {
  const forms = html.match(/<form[\s\S]*?<\/form>/g) ?? [];
  for (const form of forms) {
    const action = /action="([^"]*)"/.exec(form)?.[1];
    if (action === undefined || !action.includes(actionPart)) continue;
    const hidden: Record<string, string> = {};
    for (const input of form.match(/<input[^>]*type="hidden"[^>]*>/g) ?? []) {
      const name = /name="([^"]*)"/.exec(input)?.[1];
      const value = /value="([^"]*)"/.exec(input)?.[1] ?? '';
      if (name) hidden[name] = decodeEntities(value);
    }
    return { action: decodeEntities(action), hidden };
  }
  return null;
}

function decodeEntities(value: string): string {
  return value.replace(/&#34;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}
