/** The domain of a From value (`Name <a@b>` or `a@b`); null when it carries no address. */
export function senderDomain(from: string): string | null {
  return /@([A-Za-z0-9.-]+)>?\s*$/.exec(from)?.[1] ?? null;
}

/**
 * Names that can never receive mail: localhost and the reserved top-level and second-level
 * example names (RFC 2606, RFC 6761). Mail from them has nowhere for replies and bounces to go.
 */
const RESERVED_DOMAIN = /(^|\.)(localhost|test|invalid|example|example\.com|example\.org|example\.net)$/i;

export function isReservedDomain(domain: string): boolean {
  return RESERVED_DOMAIN.test(domain.replace(/\.$/, ''));
}
