import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import type { Middleware } from 'koa';

const TYPES: Record<string, string> = { '.css': 'text/css; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon' };

/**
 * Serves the few static assets of our pages from /static/<file>. The file list is read once
 * at start (theme files win), so no request can reach outside these folders.
 */
export function staticAssets(folders: readonly string[]): Middleware {
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const folder of [...folders].reverse()) {
    if (!existsSync(folder)) continue;
    for (const name of readdirSync(folder)) {
      const type = TYPES[path.extname(name)];
      if (type) files.set(name, { body: readFileSync(path.join(folder, name)), type });
    }
  }
  return async (ctx, next) => {
    if (!ctx.path.startsWith('/static/') || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
    const file = files.get(ctx.path.slice('/static/'.length));
    if (!file) return next();
    ctx.type = file.type;
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = file.body;
  };
}
