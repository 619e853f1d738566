import type Router from '@koa/router';

/**
 * The methods `routers` answer at `path`, sorted, for an `Allow` header (none when no route has
 * that path, which makes the answer a 404 rather than a 405).
 */
export function allowedMethods(routers: readonly Router[], path: string): string[] {
  const methods = new Set<string>();
  // The method given to match() only sets its `route` flag; `path` lists every layer at the path.
  for (const router of routers) for (const layer of router.match(path, 'GET').path) for (const method of layer.methods) methods.add(method);
  return [...methods].sort();
}
