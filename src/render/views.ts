import path from 'node:path';
import { existsSync } from 'node:fs';
import ejs from 'ejs';

/**
 * Renders EJS views. A file in the operator's theme folder wins over ours of the same
 * relative path; compiled templates are cached per resolved file.
 */
export class Views {
  readonly #folders: string[];
  readonly #resolved = new Map<string, string>();

  constructor(defaultFolder: string, themeFolder: string | null) {
    this.#folders = themeFolder ? [path.resolve(themeFolder), defaultFolder] : [defaultFolder];
  }

  /** The file that serves `name` (e.g. `pages/email-form`), theme first. */
  resolve(name: string): string {
    const cached = this.#resolved.get(name);
    if (cached) return cached;
    for (const folder of this.#folders) {
      const file = path.join(folder, `${name}.ejs`);
      if (existsSync(file)) {
        this.#resolved.set(name, file);
        return file;
      }
    }
    throw new Error(`view not found: ${name}`);
  }

  async render(name: string, locals: Record<string, unknown>): Promise<string> {
    return ejs.renderFile(this.resolve(name), locals, { cache: true, views: this.#folders, async: false });
  }
}
