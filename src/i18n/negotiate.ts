/**
 * Locale negotiation: turns what a request says about languages into one locale we ship.
 * Candidates are tried in order; each matches exactly (`de-AT`) or by its language (`de`).
 */

/** Language tags of a space-separated `ui_locales` parameter (OIDC Core 3.1.2.1), in order. */
export function parseUiLocales(value: unknown): string[] {
  if (typeof value !== 'string') return [];
  return value.split(/\s+/).filter(isLanguageTag);
}

/** Language tags of an Accept-Language header, best first (q=0 entries dropped). */
export function parseAcceptLanguage(header: string | undefined): string[] {
  if (!header) return [];
  const weighted = header
    .slice(0, 1000)
    .split(',')
    .map((part, index) => {
      const [tag = '', ...params] = part.trim().split(';');
      const q = params.map((p) => /^\s*q=([\d.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
      return { tag: tag.trim(), q: q === undefined ? 1 : Number(q), index };
    })
    .filter((entry) => isLanguageTag(entry.tag) && entry.q > 0);
  // Stable: equal weights keep the order the client gave.
  weighted.sort((a, b) => b.q - a.q || a.index - b.index);
  return weighted.map((entry) => entry.tag);
}

function isLanguageTag(tag: string): boolean {
  return /^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$/.test(tag);
}

/** The first candidate we can serve, else `fallback`. Matching ignores case. */
export function chooseLocale(candidates: readonly string[], available: readonly string[], fallback: string): string {
  const byLower = new Map(available.map((locale) => [locale.toLowerCase(), locale]));
  for (const candidate of candidates) {
    const lower = candidate.toLowerCase();
    const exact = byLower.get(lower);
    if (exact) return exact;
    const language = byLower.get(lower.split('-')[0] ?? '');
    if (language) return language;
  }
  return fallback;
}
