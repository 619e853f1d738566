import ejs from 'ejs';
import { fillVariables, type MessageVars, type Translate } from './catalog.js';

/** What every view and email template gets for its locale. */
export interface LocaleLocals {
  locale: string;
  /** Plain-text message; escape it with `<%= %>` like any value. */
  t: Translate;
  /**
   * HTML message: the catalogue text and every variable are escaped, then each variable named
   * in `wrap` is put between the given static tags (e.g. `{ email: ['<strong>', '</strong>'] }`).
   * Output it with `<%- %>`.
   */
  tHtml: (key: string, vars?: MessageVars, wrap?: Record<string, readonly [string, string]>) => string;
  /** A time of day in this locale, in `timeZone` (an IANA name; invalid or missing means UTC), with the zone's short name. */
  formatTime: (date: Date, timeZone?: string | null) => string;
  /** The key of the message stating a duration in its unit (see durationKey): `durationKey('email.validUntil', lifetime, 'minutes')`. */
  durationKey: typeof durationKey;
}

/** The locals of one locale, built on a translate function. */
export function localeLocals(locale: string, t: Translate): LocaleLocals {
  return {
    locale,
    t,
    tHtml(key, vars = {}, wrap = {}) {
      // The text is chosen as t() chooses it ({count} picks the plural form), escaped, and only
      // then filled with escaped values, so the wrapping tags are the only markup added.
      return fillVariables(ejs.escapeXML(t.message(key, vars.count)), vars, (value, name) => {
        const tags = Object.hasOwn(wrap, name) ? wrap[name] : undefined;
        return tags ? `${tags[0]}${ejs.escapeXML(value)}${tags[1]}` : ejs.escapeXML(value);
      });
    },
    formatTime: (date, timeZone) => formatTime(date, locale, timeZone),
    durationKey,
  };
}

/** Units a span of time is stated in, largest first, with their length in seconds. */
const DURATION_UNITS = [
  ['days', 86_400],
  ['hours', 3_600],
  ['minutes', 60],
  ['seconds', 1],
] as const;

export type DurationUnit = (typeof DURATION_UNITS)[number][0];

/** The units from `Largest` down to seconds. */
type UnitsUpTo<Largest extends DurationUnit> = Largest extends 'days'
  ? DurationUnit
  : Largest extends 'hours'
    ? 'hours' | 'minutes' | 'seconds'
    : Largest extends 'minutes'
      ? 'minutes' | 'seconds'
      : 'seconds';

/** A span of time as a page or email states it: its largest whole unit, rounded down. */
export interface StatedDuration<Unit extends DurationUnit = DurationUnit> {
  unit: Unit;
  count: number;
}

/**
 * How long something lasts, as told to a reader: in the largest unit it fills, no larger than
 * `largestUnit`, rounded down, so it never promises more than it lasts (36 hours is "1 day", an
 * hour is "1 hour", never "1 day"; 90 s is "1 minute", never "2"). Never less than 1 second.
 */
export function statedDuration<Largest extends DurationUnit = 'days'>(seconds: number, largestUnit: Largest = 'days' as Largest): StatedDuration<UnitsUpTo<Largest>> {
  const units = DURATION_UNITS.slice(DURATION_UNITS.findIndex(([unit]) => unit === largestUnit));
  const [unit, size] = units.find(([, length]) => seconds >= length) ?? DURATION_UNITS[DURATION_UNITS.length - 1]!;
  return { unit, count: Math.max(1, Math.floor(seconds / size)) } as StatedDuration<UnitsUpTo<Largest>>;
}

/**
 * The catalogue key of a message that states `duration`: `key` itself when it is in
 * `largestUnit` (the unit the message said before it learnt others), else `key` with the unit as
 * a suffix: `email.validUntilSeconds`, `twoFactor.trustHours`.
 */
export function durationKey(key: string, duration: StatedDuration, largestUnit: DurationUnit): string {
  return duration.unit === largestUnit ? key : `${key}${duration.unit[0]!.toUpperCase()}${duration.unit.slice(1)}`;
}

/** A lifetime as the pages and emails state it. */
export interface StatedLifetime extends StatedDuration<'minutes' | 'seconds'> {
  /** Whole minutes, rounded down, at least 1 (the `minutes` / `ttlMinutes` of older templates). */
  minutes: number;
}

/**
 * How long a link lives, as told to its reader: in whole minutes, rounded down, and in seconds
 * under a minute (its messages' keys: `durationKey(key, lifetime, 'minutes')`).
 */
export function statedLifetime(seconds: number): StatedLifetime {
  const stated = statedDuration(seconds, 'minutes');
  return { ...stated, minutes: stated.unit === 'minutes' ? stated.count : 1 };
}

const TIME_OPTIONS: Intl.DateTimeFormatOptions = { hour: 'numeric', minute: '2-digit', timeZoneName: 'short' };

/**
 * Building an Intl.DateTimeFormat costs far more than formatting with one, and every email
 * formats a time: formatters are kept per locale and zone. Bounded, since zones come from users.
 */
const formatters = new Map<string, Intl.DateTimeFormat>();
const MAX_FORMATTERS = 500;

function timeFormatter(locale: string, timeZone: string): Intl.DateTimeFormat {
  const key = `${locale}\u0000${timeZone}`;
  let formatter = formatters.get(key);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat(locale, { ...TIME_OPTIONS, timeZone });
    if (formatters.size >= MAX_FORMATTERS) formatters.clear();
    formatters.set(key, formatter);
  }
  return formatter;
}

/** `16:05 GMT+1`-style time; falls back to UTC when the zone is not one Intl knows. */
export function formatTime(date: Date, locale: string, timeZone?: string | null): string {
  try {
    return timeFormatter(locale, timeZone || 'UTC').format(date);
  } catch {
    return timeFormatter(locale, 'UTC').format(date);
  }
}
