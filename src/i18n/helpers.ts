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
  };
}

/** A lifetime as the pages and emails state it. */
export interface StatedLifetime {
  /** 'seconds' under a minute, else 'minutes'; a message with the `Seconds` suffix says seconds. */
  unit: 'minutes' | 'seconds';
  count: number;
  /** Whole minutes, rounded down, at least 1 (the `minutes` / `ttlMinutes` of older templates). */
  minutes: number;
}

/**
 * How long a link lives, as told to its reader: rounded down, so it never promises more than
 * it lasts (90 s is "1 minute", never "2"), and in seconds under a minute.
 */
export function statedLifetime(seconds: number): StatedLifetime {
  const minutes = Math.floor(seconds / 60);
  return minutes >= 1 ? { unit: 'minutes', count: minutes, minutes } : { unit: 'seconds', count: Math.max(1, Math.floor(seconds)), minutes: 1 };
}

/** A span of time as a page states it: its largest whole unit, rounded down. */
export interface StatedDuration {
  unit: 'days' | 'hours' | 'minutes' | 'seconds';
  count: number;
}

const DURATION_UNITS = [
  ['days', 86_400],
  ['hours', 3_600],
  ['minutes', 60],
] as const;

/**
 * How long something lasts, as told to a reader: in the largest unit it fills, rounded down,
 * so it never promises more than it lasts (36 hours is "1 day", an hour is "1 hour", never "1 day").
 */
export function statedDuration(seconds: number): StatedDuration {
  for (const [unit, size] of DURATION_UNITS) if (seconds >= size) return { unit, count: Math.floor(seconds / size) };
  return { unit: 'seconds', count: Math.max(1, Math.floor(seconds)) };
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
