const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "object-src 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Headers for every response. Our pages carry no inline script or style, so the CSP can
 * stay strict; node-oidc-provider may replace it on the few pages it renders itself.
 */
export function securityHeaderList(options: { https: boolean }): readonly (readonly [string, string])[] {
  return [
    ['Content-Security-Policy', CSP],
    ['Referrer-Policy', 'no-referrer'],
    ['X-Content-Type-Options', 'nosniff'],
    ['X-Frame-Options', 'DENY'],
    ...(options.https ? [['Strict-Transport-Security', 'max-age=31536000; includeSubDomains'] as const] : []),
  ];
}
