import Router from '@koa/router';
import type { Views } from '../render/views.js';
import type { DevMailbox } from '../mail/dev-mailbox.js';
import { renderPage } from '../http/page.js';

/** The development mailbox: every email the server "sent", newest first. */
export function devMailboxRoutes(mailbox: DevMailbox, views: Views): Router {
  const router = new Router({ prefix: '/dev' });
  router.get('/mail.json', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = mailbox.list();
  });
  router.get('/mail', (ctx) => renderPage(ctx, views, 200, 'pages/dev-mail', { messages: mailbox.list() }));
  return router;
}
