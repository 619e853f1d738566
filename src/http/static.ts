import { lstatSync, readdirSync, readFileSync, realpathSync, existsSync } from 'node:fs';
import path from 'node:path';
import type { Middleware } from 'koa';

/** The web asset types served, by extension; any other file in a static folder stays private. */
const TYPES: Record<string, string> = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.otf': 'font/otf',
};

interface Asset {
  body: Buffer;
  type: string;
}

/**
 * Serves the assets of our pages from /static/<relative path>, subfolders included. Every file
 * is read once at start, theme first: a theme file overrides ours at the same relative path.
 * Requests are looked up in that list, never joined to a folder, so no path (`..`, encoded
 * slashes, absolute paths) can reach another file; dot files and links that lead out of their
 * folder are not listed at all.
 */
export function staticAssets(folders: readonly string[]): Middleware {
  const files = new Map<string, Asset>();
  for (const folder of [...folders].reverse()) {
    if (!existsSync(folder)) continue;
    const root = realpathSync(folder);
    for (const [name, asset] of assetsUnder(root, root)) files.set(name, asset);
  }
  return async (ctx, next) => {
    if (!ctx.path.startsWith('/static/') || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
    const file = files.get(requestedName(ctx.path.slice('/static/'.length)) ?? '');
    if (!file) return next();
    ctx.type = file.type;
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = file.body;
  };
}

/** The relative name a request path asks for ('img/logo.png'); null when it cannot name a listed file. */
function requestedName(raw: string): string | null {
  // An encoded separator would let one segment pose as two.
  if (/%2f|%5c/i.test(raw)) return null;
  try {
    return decodeURIComponent(raw);
  } catch {
    return null;
  }
}

/**
 * The served files under `folder` (inside `root`), by their '/'-separated path relative to
 * `root`. `open` holds the real paths of the folders being walked, so a link to one of them
 * cannot loop.
 */
function* assetsUnder(folder: string, root: string, open: ReadonlySet<string> = new Set([root])): Generator<[string, Asset]> {
  for (const entry of readdirSync(folder).sort()) {
    if (entry.startsWith('.')) continue;
    const full = path.join(folder, entry);
    const real = realpathOrNull(full);
    // A symbolic link is followed only while it stays inside the static folder.
    if (real === null || !real.startsWith(root + path.sep)) continue;
    const stat = lstatSync(real);
    if (stat.isDirectory()) {
      if (!open.has(real)) yield* assetsUnder(full, root, new Set([...open, real]));
    } else if (stat.isFile()) {
      const type = TYPES[path.extname(entry).toLowerCase()];
      if (type) yield [path.relative(root, full).split(path.sep).join('/'), { body: readFileSync(real), type }];
    }
  }
}

function realpathOrNull(file: string): string | null {
  try {
    return realpathSync(file);
  } catch {
    return null;
  }
}
