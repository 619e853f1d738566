import { isIPv4, isIPv6 } from 'node:net';

/**
 * Coarse descriptions of where a sign-in was requested from, for the page a link opens on
 * another device. Coarse on purpose: enough for a person to recognise "that was me, on my
 * laptop at home", not enough to track anyone (no full IP address, no version numbers).
 */

const BROWSERS: ReadonlyArray<[RegExp, string]> = [
  [/\bEdgA?\//, 'Edge'],
  [/\bOPR\//, 'Opera'],
  [/\bSamsungBrowser\//, 'Samsung Internet'],
  [/\b(Firefox|FxiOS)\//, 'Firefox'],
  [/\b(Chrome|CriOS|HeadlessChrome|Chromium)\//, 'Chrome'],
  [/\bVersion\/[\d.]+.*\bSafari\//, 'Safari'],
];

// Order matters: Android and ChromeOS user agents also say "Linux"; iOS ones say "like Mac OS X".
const SYSTEMS: ReadonlyArray<[RegExp, string]> = [
  [/\bAndroid\b/, 'Android'],
  [/\b(iPhone|iPad|iPod)\b/, 'iOS'],
  [/\bCrOS\b/, 'ChromeOS'],
  [/\bWindows\b/, 'Windows'],
  [/\bMac OS X\b|\bMacintosh\b/, 'macOS'],
  [/\bLinux\b/, 'Linux'],
];

function firstMatch(table: ReadonlyArray<[RegExp, string]>, text: string): string | null {
  return table.find(([pattern]) => pattern.test(text))?.[1] ?? null;
}

/** "Chrome on Linux", "Safari on iOS", "an unknown browser", … */
export function describeBrowser(userAgent: string | undefined): string {
  const ua = (userAgent ?? '').slice(0, 512);
  const browser = firstMatch(BROWSERS, ua);
  const system = firstMatch(SYSTEMS, ua);
  if (browser && system) return `${browser} on ${system}`;
  if (browser) return browser;
  if (system) return `a browser on ${system}`;
  return 'an unknown browser';
}

/** A catalogue key and its variables, for a view's `t()`. */
export interface DescriptionMessage {
  key: string;
  vars: Record<string, string>;
}

/**
 * The catalogue message for a description made by {@link describeBrowser}. The description is
 * stored with the code in English; browser and system names are kept, the words around them are
 * translated. Anything else is shown as it is.
 */
export function browserMessage(description: string): DescriptionMessage {
  if (description === 'an unknown browser') return { key: 'elsewhere.browserUnknown', vars: {} };
  const someBrowser = /^a browser on (.+)$/.exec(description);
  if (someBrowser) return { key: 'elsewhere.browserOnSystem', vars: { system: someBrowser[1]! } };
  const named = /^(.+) on (.+)$/.exec(description);
  if (named) return { key: 'elsewhere.browserOn', vars: { browser: named[1]!, system: named[2]! } };
  return { key: 'elsewhere.browserName', vars: { browser: description } };
}

/** The network as a view shows it: the coarse address, or a translated "unknown". */
export function networkMessage(description: string): DescriptionMessage {
  if (description === 'an unknown network') return { key: 'elsewhere.networkUnknown', vars: {} };
  return { key: 'elsewhere.networkName', vars: { network: description } };
}

/** The /24 of an IPv4 address ("203.0.113.x") or the /48 of an IPv6 one ("2001:db8:85a3::/48"). */
export function describeNetwork(ip: string | undefined): string {
  const address = (ip ?? '').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
  if (isIPv4(address)) return `${address.split('.').slice(0, 3).join('.')}.x`;
  if (isIPv6(address)) return `${expandIPv6(address).slice(0, 3).join(':')}::/48`;
  return 'an unknown network';
}

/** The eight groups of an IPv6 address, without leading zeros ("::1" → 0,0,0,0,0,0,0,1). */
function expandIPv6(address: string): string[] {
  const [head = '', tail] = address.split('%')[0]!.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const middle = tail === undefined ? [] : new Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0');
  return [...left, ...middle, ...right].map((group) => (/^[0-9a-f]+$/i.test(group) ? parseInt(group, 16).toString(16) : group));
}
