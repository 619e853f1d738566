import { STATUS_CODES } from 'node:http';
import ejs from 'ejs';
import type { Context } from 'koa';
import type { Views } from '../render/views.js';
import { parseAcceptLanguage, parseUiLocales } from '../i18n/negotiate.js';
import { describeError, log } from '../log.js';
import { redactPath } from './request-log.js';

/** The view every error answer renders. */
export const ERROR_VIEW = 'pages/error';

/** What a request says about the reader's languages, strongest first. */
export interface LocaleHints {
  /** The authorization request's `ui_locales`. */
  uiLocales: string[];
  /** The browser's Accept-Language. */
  acceptLanguage: string[];
}

/**
 * Remembers the sign-in's `ui_locales` for the pages of this request. Our routes call it once
 * they know the interaction; node-oidc-provider's own pages carry it in `ctx.oidc.params`.
 */
export function useInteractionLocale(ctx: Context, params: Record<string, unknown> | undefined): void {
  ctx.state.uiLocales = params?.ui_locales;
}

/** The locale hints of a request (see {@link useInteractionLocale}). */
export function localeHintsOf(ctx: Context): LocaleHints {
  const oidcParams = (ctx as Context & { oidc?: { params?: Record<string, unknown> } }).oidc?.params;
  return {
    uiLocales: parseUiLocales(ctx.state?.uiLocales ?? oidcParams?.ui_locales),
    acceptLanguage: parseAcceptLanguage(ctx.get('accept-language')),
  };
}

/**
 * Where the pages are mounted: '' at a host's root, '/oidc' when the provider is mounted there.
 * Set for the request by whoever mounts our routes (see useBase); every link and form of a page
 * starts with it.
 */
export function baseOf(ctx: Context): string {
  const base = (ctx.state as { base?: unknown } | undefined)?.base;
  return typeof base === 'string' ? base : '';
}

export function useBase(ctx: Context, base: string): void {
  ctx.state.base = base;
}

/**
 * Locals every page gets: `base` (see baseOf) and the locale hints the renderer chooses from
 * (ui_locales, then Accept-Language, then the default).
 */
export function pageLocals(ctx: Context): Record<string, unknown> {
  const hints = localeHintsOf(ctx);
  return { base: baseOf(ctx), localeHints: [...hints.uiLocales, ...hints.acceptLanguage] };
}

/** Renders an HTML page with a status. */
export async function renderPage(
  ctx: Context,
  views: Views,
  status: number,
  view: string,
  locals: Record<string, unknown>,
): Promise<void> {
  ctx.status = status;
  ctx.type = 'html';
  ctx.set('Cache-Control', 'no-store');
  // The same URL answers in different languages: caches (none should, but) must key on it.
  ctx.vary('Accept-Language');
  ctx.body = view === ERROR_VIEW ? await errorPageBody(ctx, views, locals) : await views.render(view, { ...pageLocals(ctx), ...locals });
}

/**
 * The error page's HTML for `ctx.status`. It is the last answer there is: when its template
 * fails (a theme's broken error.ejs or a partial it includes), the failure is logged and the
 * built-in page answers instead, with the status the error page was for. Thrown on, the failure
 * reached Koa's own handler, which answers a bare 500 and drops every header set before it (the
 * security headers too).
 */
async function errorPageBody(ctx: Context, views: Views, locals: Record<string, unknown>): Promise<string> {
  try {
    return await views.render(ERROR_VIEW, { ...pageLocals(ctx), ...locals });
  } catch (err) {
    log.error('page.render_failed', { view: ERROR_VIEW, method: ctx.method, path: redactPath(ctx.path), status: ctx.status, ...describeError(err) });
    return builtInErrorPage(ctx.status, typeof locals.error === 'string' ? locals.error : '');
  }
}

/** A plain page for an error status, from no template: nothing of a theme can break it. */
export function builtInErrorPage(status: number, code: string): string {
  const heading = `${status} ${STATUS_CODES[status] ?? 'Error'}`;
  const text =
    status === 503
      ? 'The service is temporarily unavailable. Please try again shortly.'
      : status >= 500
        ? 'Something went wrong on our side. Please try again later.'
        : 'The request could not be completed. Please go back to the app and try again.';
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex">',
    `<title>${ejs.escapeXML(heading)}</title></head>`,
    '<body>',
    `<h1>${ejs.escapeXML(heading)}</h1>`,
    `<p>${ejs.escapeXML(text)}</p>`,
    ...(code ? [`<p>Error: <code>${ejs.escapeXML(code)}</code></p>`] : []),
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
