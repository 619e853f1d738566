import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** Variables substituted into a message: `{name}` in the text. `count` also selects a plural form. */
export type MessageVars = Record<string, string | number | null | undefined>;

/** A translate function bound to one locale, as views and email templates get it. */
export interface Translate {
  (key: string, vars?: MessageVars): string;
  /** Does the catalogue know this key (in this locale or the default one)? */
  has(key: string): boolean;
  /**
   * The text of `key` before its variables are filled in, in the plural form that `count`
   * selects (the key itself when unknown). `tHtml` escapes it, then fills in escaped values.
   */
  message(key: string, count?: MessageVars[string]): string;
}

type Messages = Map<string, string | Record<string, string>>;

const PLURAL_CATEGORIES = new Set(['zero', 'one', 'two', 'few', 'many', 'other']);

/** Thrown at start-up when a locale file cannot be used; names the file. */
export class CatalogError extends Error {
  readonly code = 'catalog_invalid';
}

/**
 * The message catalogue: one JSON file per locale (`locales/<tag>.json`), nested keys flattened
 * to `a.b.c`. A theme's `locales/` folder is read after ours: its keys win, and a new file there
 * adds a locale. Missing keys fall back to the default locale, then to the key itself, so a
 * half-translated file degrades to English rather than to an error page.
 */
export class Catalog {
  readonly #messages = new Map<string, Messages>();
  /** Built once per locale: Intl.PluralRules is costly to construct on every render. */
  readonly #translators = new Map<string, Translate>();

  constructor(
    folders: readonly string[],
    readonly defaultLocale: string,
  ) {
    for (const folder of folders) this.#loadFolder(folder);
    if (!this.#messages.has(defaultLocale)) {
      throw new CatalogError(`mail.defaultLocale: no locale file for "${defaultLocale}" (have: ${this.locales.join(', ')})`);
    }
  }

  #locales: string[] | null = null;

  /** Locales with a file, e.g. `['de', 'en']` (the catalogue does not change once loaded). */
  get locales(): string[] {
    this.#locales ??= [...this.#messages.keys()].sort();
    return this.#locales;
  }

  /** A translate function for `locale` (an unknown locale translates as the default one). */
  translator(locale: string): Translate {
    const cached = this.#translators.get(locale);
    if (cached) return cached;
    const built = this.#buildTranslator(locale);
    // Only locales we have files for are kept, so the cache stays as small as the catalogue.
    if (this.#messages.has(locale)) this.#translators.set(locale, built);
    return built;
  }

  #buildTranslator(locale: string): Translate {
    const primary = this.#messages.get(locale);
    const fallback = this.#messages.get(this.defaultLocale) as Messages;
    const plural = new Intl.PluralRules(locale);
    const lookup = (key: string) => primary?.get(key) ?? fallback.get(key);
    const message = (key: string, count?: MessageVars[string]) => {
      const entry = lookup(key);
      if (entry === undefined) return key;
      return typeof entry === 'string' ? entry : pickPlural(entry, plural, count);
    };
    const t = ((key: string, vars: MessageVars = {}) => fillVariables(message(key, vars.count), vars)) as Translate;
    t.has = (key: string) => lookup(key) !== undefined;
    t.message = message;
    return t;
  }

  #loadFolder(folder: string): void {
    if (!existsSync(folder)) return;
    for (const file of readdirSync(folder).filter((name) => name.endsWith('.json')).sort()) {
      const locale = file.slice(0, -'.json'.length);
      const messages = this.#messages.get(locale) ?? new Map();
      flatten(readLocaleFile(path.join(folder, file)), '', messages);
      this.#messages.set(locale, messages);
    }
  }
}

function readLocaleFile(file: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('the top level must be an object');
    return parsed as Record<string, unknown>;
  } catch (err) {
    throw new CatalogError(`locale file ${file}: ${(err as Error).message}`);
  }
}

function isPluralEntry(value: Record<string, unknown>): value is Record<string, string> {
  const keys = Object.keys(value);
  return keys.includes('other') && keys.every((k) => PLURAL_CATEGORIES.has(k) && typeof value[k] === 'string');
}

function flatten(node: Record<string, unknown>, prefix: string, into: Messages): void {
  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith('//')) continue; // documentation, as in config/default.json
    const name = prefix ? `${prefix}.${key}` : key;
    if (typeof value === 'string') into.set(name, value);
    else if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      const record = value as Record<string, unknown>;
      if (isPluralEntry(record)) into.set(name, record);
      else flatten(record, name, into);
    }
  }
}

function pickPlural(entry: Record<string, string>, rules: Intl.PluralRules, count: MessageVars[string]): string {
  const category = typeof count === 'number' ? rules.select(count) : 'other';
  return entry[category] ?? entry.other ?? '';
}

/**
 * Replaces each `{name}` of `text` that `vars` has a value for with `render(value, name)`;
 * unknown names stay as written.
 */
export function fillVariables(text: string, vars: MessageVars, render: (value: string, name: string) => string = (value) => value): string {
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = Object.hasOwn(vars, name) ? vars[name] : undefined;
    return value === undefined || value === null ? whole : render(String(value), name);
  });
}
