import Router from '@koa/router';
import type { Context } from 'koa';
import type { Views } from '../render/views.js';
import type { DevMailbox, StoredMail } from '../mail/dev-mailbox.js';
import { renderPage } from '../http/page.js';

/**
 * An email's HTML as it is, shown in a frame of the mailbox page. Email HTML is styled inline, so
 * it gets a CSP of its own: no script, inline styles, images; sandboxed, so nothing in it runs or
 * reaches the page, except links, which open in the whole window (the <base> added to it).
 */
const EMAIL_FRAME_CSP = [
  "default-src 'none'",
  "style-src 'unsafe-inline'",
  'img-src data: https: http:',
  "frame-ancestors 'self'",
  'sandbox allow-popups allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation',
].join('; ');

/** The HTML part with links aimed at the whole window (a sign-in link must not finish inside a frame). */
function framedHtml(html: string): string {
  const base = '<base target="_top">';
  return /<head[^>]*>/i.test(html) ? html.replace(/<head[^>]*>/i, (head) => `${head}${base}`) : `${base}${html}`;
}

/** The headers the message went out with, as the transports build them from its fields. */
function headersOf(mail: StoredMail): [string, string][] {
  return [
    ['Date', mail.date],
    ['To', mail.toName ? `${mail.toName} <${mail.to}>` : mail.to],
    ['Subject', mail.subject],
    ...(mail.language ? ([['Content-Language', mail.language]] as [string, string][]) : []),
    ['Auto-Submitted', 'auto-generated'],
  ];
}

/**
 * The development mailbox: every email the server "sent", newest first, each shown as its reader
 * sees it (the HTML part in a sandboxed frame, with working links), its text part and headers.
 * The page polls /dev/mail.json (static/dev-mail.js) and shows a new email as it arrives.
 */
export function devMailboxRoutes(mailbox: DevMailbox, views: Views): Router {
  const router = new Router({ prefix: '/dev' });
  router.get('/mail.json', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = mailbox.list();
  });

  const show = (ctx: Context, selectedId: string | null) => {
    const messages = mailbox.list();
    const selected = selectedId === null ? (messages[0] ?? null) : (messages.find((m) => m.id === selectedId) ?? null);
    if (selectedId !== null && !selected) return renderPage(ctx, views, 404, 'pages/error', { title: 'error.title.notFound', error: 'not_found', description: 'error.message.notFound' });
    return renderPage(ctx, views, 200, 'pages/dev-mail', { messages, selected, headers: selected ? headersOf(selected) : [], newest: messages[0]?.id ?? '' });
  };
  router.get('/mail', (ctx) => show(ctx, null));
  router.get('/mail/:id', (ctx) => show(ctx, (ctx.params as Record<string, string>).id ?? ''));
  router.get('/mail/:id/html', (ctx) => {
    const mail = mailbox.list().find((m) => m.id === (ctx.params as Record<string, string>).id);
    if (!mail) {
      ctx.status = 404;
      return;
    }
    ctx.set('Content-Security-Policy', EMAIL_FRAME_CSP);
    // Framed by the mailbox page only (the server's default is DENY).
    ctx.set('X-Frame-Options', 'SAMEORIGIN');
    ctx.set('Cache-Control', 'no-store');
    ctx.type = 'html';
    ctx.body = framedHtml(mail.html);
  });
  return router;
}
