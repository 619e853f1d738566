import http from 'node:http';
import { expect } from 'chai';
import { startTestServer, WEB_CLIENT, type TestServer } from '../helpers/server.js';

const ISSUER = 'https://id.example.test';

interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * One request with exactly the Host (and forwarding headers) given: fetch sets Host itself. A
 * `target` that is an absolute URL is sent in absolute form (`GET https://evil.example/x HTTP/1.1`).
 */
function raw(port: number, target: string, headers: Record<string, string>): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const request = http.request({ host: '127.0.0.1', port, path: target, headers, setHost: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body }));
    });
    request.on('error', reject);
    request.end();
  });
}

/** Every URL in a discovery document, by the key it sits under. */
function urlsOf(document: Record<string, unknown>): [string, string][] {
  return Object.entries(document).filter((entry): entry is [string, string] => typeof entry[1] === 'string' && /^[a-z]+:\/\//i.test(entry[1]));
}

/** A Location names the issuer: a path on it, or an absolute URL on its origin. */
function expectOnIssuer(location: string | undefined, what: string): void {
  expect(location, `${what}: Location`).to.be.a('string');
  expect(new URL(location!, ISSUER).origin, `${what}: ${location}`).to.equal(ISSUER);
}

const authorizeQuery = new URLSearchParams({
  client_id: WEB_CLIENT.client_id,
  response_type: 'code',
  scope: 'openid',
  redirect_uri: WEB_CLIENT.redirect_uris[0]!,
  code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
  code_challenge_method: 'S256',
}).toString();

/** What a client (or a proxy passing its own upstream Host) may send instead of the public host. */
function forgeries(port: number): [string, Record<string, string>][] {
  return [
    ['the upstream Host a proxy forwards', { host: `127.0.0.1:${port}`, 'x-forwarded-proto': 'https' }],
    ['a client-sent Host', { host: 'evil.example', 'x-forwarded-proto': 'https' }],
    ['a client-sent X-Forwarded-Host', { host: 'id.example.test', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' }],
    ['a plain-http request', { host: 'id.example.test' }],
    ['X-Forwarded-Proto: http', { host: 'id.example.test', 'x-forwarded-proto': 'http' }],
  ];
}

describe('links are built from the configured issuer, never from the Host header (rule 7)', () => {
  for (const proxy of [false, true]) {
    describe(`with an https issuer, proxy ${proxy ? 'trusted' : 'not trusted'}`, () => {
      let server: TestServer;
      before(async () => {
        server = await startTestServer({ config: { proxy, issuer: ISSUER } });
      });
      after(() => server.stop());

      it('publishes discovery with every endpoint on the issuer', async () => {
        const targets = ['/.well-known/openid-configuration', 'http://evil.example/.well-known/openid-configuration'];
        for (const [what, headers] of forgeries(server.port)) {
          for (const target of targets) {
            const answer = await raw(server.port, target, headers);
            expect(answer.status, `${what} ${target}`).to.equal(200);
            const document = JSON.parse(answer.body) as Record<string, unknown>;
            expect(document.issuer).to.equal(ISSUER);
            const urls = urlsOf(document);
            expect(urls.map(([key]) => key)).to.include.members(['authorization_endpoint', 'token_endpoint', 'jwks_uri', 'userinfo_endpoint', 'end_session_endpoint']);
            for (const [key, url] of urls) expect(url === ISSUER || url.startsWith(`${ISSUER}/`), `${what} ${target}: ${key} ${url}`).to.equal(true);
          }
        }
      });

      it('sends /auth on to the sign-in page on the issuer, and resumes there', async () => {
        for (const [what, headers] of forgeries(server.port)) {
          for (const target of [`/auth?${authorizeQuery}`, `http://evil.example/auth?${authorizeQuery}`]) {
            const answer = await raw(server.port, target, headers);
            expect(answer.status, `${what} ${target}`).to.equal(303);
            expectOnIssuer(answer.headers.location, `${what} ${target}`);
            const uid = /\/interaction\/([\w-]+)/.exec(answer.headers.location!)![1]!;
            const interaction = await server.app.provider.Interaction.find(uid);
            expectOnIssuer(interaction!.returnTo, `${what} ${target}: where the sign-in resumes`);
          }
        }
      });

      it('posts the logout confirmation to the issuer', async () => {
        for (const [what, headers] of forgeries(server.port)) {
          const answer = await raw(server.port, '/session/end', headers);
          expect(answer.status, what).to.equal(200);
          const action = /<form[^>]*action="([^"]+)"/.exec(answer.body)?.[1];
          expectOnIssuer(action, `${what}: logout form`);
        }
      });

      it(`keeps cookies Secure only when the request came over TLS${proxy ? ' (as the proxy says)' : ''}`, async () => {
        const secure = async (headers: Record<string, string>) => {
          const answer = await raw(server.port, `/auth?${authorizeQuery}`, headers);
          const cookies = answer.headers['set-cookie'] ?? [];
          expect(cookies.length).to.be.greaterThan(0);
          return cookies.every((cookie) => /;\s*secure/i.test(cookie));
        };
        expect(await secure({ host: 'id.example.test', 'x-forwarded-proto': 'https' })).to.equal(proxy);
        expect(await secure({ host: 'id.example.test' })).to.equal(false);
      });
    });
  }
});
