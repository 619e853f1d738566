import path from 'node:path';
import { existsSync } from 'node:fs';
import ejs from 'ejs';
import type { Catalog } from '../i18n/catalog.js';
import { chooseLocale } from '../i18n/negotiate.js';
import { localeLocals } from '../i18n/helpers.js';

/**
 * Renders EJS views. A file in the operator's theme folder wins over ours of the same
 * relative path; compiled templates are cached per resolved file.
 *
 * Every render is in one locale of the catalogue: `locals.locale` when the caller already
 * chose one (emails), else the first of `locals.localeHints` we ship (pages), else the default.
 * The template then gets `locale`, `t`, `tHtml` and `formatTime`.
 */
export class Views {
  readonly #folders: string[];
  readonly #resolved = new Map<string, string | null>();

  constructor(
    defaultFolder: string,
    themeFolder: string | null,
    readonly catalog: Catalog,
  ) {
    this.#folders = themeFolder ? [path.resolve(themeFolder), defaultFolder] : [defaultFolder];
  }

  /** The file that serves `name` (e.g. `pages/email-form`), theme first; null when none does. */
  find(name: string): string | null {
    const cached = this.#resolved.get(name);
    if (cached !== undefined) return cached;
    const file = this.#folders.map((folder) => path.join(folder, `${name}.ejs`)).find((candidate) => existsSync(candidate)) ?? null;
    this.#resolved.set(name, file);
    return file;
  }

  /** Like {@link find}, but a missing view is a fault. */
  resolve(name: string): string {
    const file = this.find(name);
    if (!file) throw new Error(`view not found: ${name}`);
    return file;
  }

  /** The locale a render with these locals uses. */
  localeFor(locals: Record<string, unknown>): string {
    const candidates = [
      ...(typeof locals.locale === 'string' ? [locals.locale] : []),
      ...(Array.isArray(locals.localeHints) ? locals.localeHints.filter((h): h is string => typeof h === 'string') : []),
    ];
    return chooseLocale(candidates, this.catalog.locales, this.catalog.defaultLocale);
  }

  async render(name: string, locals: Record<string, unknown>): Promise<string> {
    return this.renderFile(this.resolve(name), locals);
  }

  /** Renders the first of `names` that exists (most specific first). */
  async renderFirst(names: readonly string[], locals: Record<string, unknown>): Promise<string> {
    const file = names.map((name) => this.find(name)).find((found) => found !== null);
    if (!file) throw new Error(`view not found: ${names.at(-1) ?? '(none)'}`);
    return this.renderFile(file, locals);
  }

  async renderFile(file: string, locals: Record<string, unknown>): Promise<string> {
    const locale = this.localeFor(locals);
    const i18n = localeLocals(locale, this.catalog.translator(locale));
    return ejs.renderFile(file, { ...locals, ...i18n }, { cache: true, views: this.#folders, async: false });
  }
}
