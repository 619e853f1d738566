import path from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import ejs, { type ClientFunction } from 'ejs';
import type { Catalog } from '../i18n/catalog.js';
import { chooseLocale } from '../i18n/negotiate.js';
import { localeLocals } from '../i18n/helpers.js';

/**
 * Renders EJS views. A file in the operator's theme folder wins over ours of the same
 * relative path; compiled templates are cached per resolved file.
 *
 * `include('partials/top')` names a view from the root of the views folders and resolves like
 * any other view, theme first: a theme's partial serves our pages, and a theme's page can
 * include our partials. (EJS's own include resolves relative to the including file, so it
 * keeps our partials for our pages; and EJS caches compiled templates process-wide by file,
 * with the include resolution of whichever instance compiled them first, so the cache here is
 * per instance.)
 *
 * Every render is in one locale of the catalogue: `locals.locale` when the caller already
 * chose one (emails), else the first of `locals.localeHints` we ship (pages), else the default.
 * The template then gets `locale`, `t`, `tHtml` and `formatTime`.
 */
export class Views {
  readonly #folders: string[];
  readonly #resolved = new Map<string, string | null>();
  readonly #compiled = new Map<string, ClientFunction>();

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
    return this.#run(file, { ...locals, ...i18n });
  }

  #run(file: string, data: Record<string, unknown>): string {
    const include = (name: string, includeData?: Record<string, unknown>) => this.#run(this.resolve(includedViewName(name)), includeData ? { ...data, ...includeData } : data);
    return this.#template(file)(data, undefined, include);
  }

  #template(file: string): ClientFunction {
    let template = this.#compiled.get(file);
    if (!template) {
      // Client mode leaves include() to us; escaping and error reporting stay EJS's own.
      template = ejs.compile(readFileSync(file, 'utf8'), { client: true, filename: file, async: false });
      this.#compiled.set(file, template);
    }
    return template;
  }
}

/** The view an include names: a path from the views root; leading `../` (relative to pages/) are dropped. */
function includedViewName(name: string): string {
  return path.posix.normalize(name.replace(/\\/g, '/')).replace(/^(\.\.\/)+/, '').replace(/\.ejs$/, '');
}
