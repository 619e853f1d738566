import { expect } from 'chai';

/**
 * Rule 8 for one response: the headers every answer carries, whoever answered it (our routes,
 * node-oidc-provider, the static files, the error handler).
 */
export function expectSecurityHeaders(headers: Headers, what: string): void {
  const csp = headers.get('content-security-policy') ?? '';
  expect(csp, `${what}: CSP`).to.include("frame-ancestors 'none'");
  expect(csp, `${what}: CSP`).to.match(/script-src 'self'/);
  expect(csp, `${what}: no unsafe-inline`).not.to.include('unsafe-inline');
  expect(csp, `${what}: no unsafe-eval`).not.to.include('unsafe-eval');
  expect(headers.get('x-frame-options'), what).to.equal('DENY');
  expect(headers.get('x-content-type-options'), what).to.equal('nosniff');
  expect(headers.get('referrer-policy'), what).to.equal('no-referrer');
  expect(headers.get('x-request-id'), what).to.be.a('string');
}
