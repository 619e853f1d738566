import type Router from '@koa/router';
import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import type { Views } from '../render/views.js';
import { allowedMethods } from '../http/allowed-methods.js';
import { renderPage, useInteractionLocale } from '../http/page.js';
import { interactionById, interactionOfBrowser } from './session.js';

/**
 * The page for an /interaction/… request no route of ours answered. Without it the request fell
 * through to node-oidc-provider, whose answer is a bare English "Not Found". Browsers land here:
 * the address bar keeps a form's URL after its POST (a reload or a restored tab GETs it), and a
 * link can be cut off in the mail client (…/magic). Each gets a page in the sign-in's language.
 */
export function interactionFallback(deps: {
  provider: Provider;
  views: Views;
  routers: readonly Router[];
  /** Answer only addresses the routers have (with another method), passing the rest on: the server's API link before the plugin's pages. */
  onlyTheirPaths?: boolean;
}): Middleware {
  const { provider, views } = deps;
  return async (ctx, next) => {
    if (ctx.path !== '/interaction' && !ctx.path.startsWith('/interaction/')) return next();
    if (deps.onlyTheirPaths) {
      const theirs = allowedMethods(deps.routers, ctx.path);
      if (theirs.length === 0 || theirs.includes(ctx.method)) return next();
    }
    const uid = ctx.path.split('/')[2] ?? '';
    // This browser's sign-in (loaded once per request, maybe already by a sign-in route); else
    // the sign-in by id, which gives a stranger's page its language but no way back.
    const ongoing = await interactionOfBrowser(provider, ctx, uid);
    const interaction = ongoing ?? (await interactionById(provider, uid));
    if (interaction) useInteractionLocale(ctx, interaction.params);

    const allowed = allowedMethods(deps.routers, ctx.path);
    if (allowed.length > 0) {
      ctx.set('Allow', allowed.join(', '));
      if ((ctx.method === 'GET' || ctx.method === 'HEAD') && allowed.includes('POST')) {
        // A form's address opened again: nothing is sent twice; back to the sign-in when this browser is still in it.
        return renderPage(ctx, views, 405, 'pages/form-left', { uid: ongoing ? ongoing.uid : null });
      }
      return renderPage(ctx, views, 405, 'pages/error', { title: 'error.title.client', error: 'method_not_allowed', description: 'error.message.notFound' });
    }
    if (/^\/interaction\/[^/]+\/magic\/?$/.test(ctx.path)) {
      // A link cut off before its code: the same page as for any link that is not valid.
      return renderPage(ctx, views, 404, 'pages/link-problem', { uid, problem: 'unknown', linkCode: null, csrf: '' });
    }
    return renderPage(ctx, views, 404, 'pages/error', { title: 'error.title.notFound', error: 'not_found', description: 'error.message.notFound' });
  };
}

