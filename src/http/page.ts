import type { Context } from 'koa';
import type { Views } from '../render/views.js';
import { parseAcceptLanguage, parseUiLocales } from '../i18n/negotiate.js';

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

/** Locals every page gets: the locale is chosen from them by the renderer (ui_locales, then Accept-Language, then the default). */
export function pageLocals(ctx: Context): Record<string, unknown> {
  const hints = localeHintsOf(ctx);
  return { localeHints: [...hints.uiLocales, ...hints.acceptLanguage] };
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
  ctx.body = await views.render(view, { ...pageLocals(ctx), ...locals });
}
