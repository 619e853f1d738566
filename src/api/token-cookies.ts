import type { Context } from 'koa';
import type { ClientConfig } from '../config/schema.js';

/**
 * FusionAuth's `access_token` and `refresh_token` cookies on the answers that issue tokens
 * (passwordless and two-factor login, refresh), for the clients that ask for them with
 * `tokenCookies: true`: a browser app calling the API directly then holds its tokens where
 * scripts cannot read them. Off by default: a back end calling the API has no use for them.
 */
export class TokenCookies {
  readonly #clients: ReadonlySet<string>;

  constructor(
    clients: readonly ClientConfig[],
    /** Secure cookies when the issuer is https (set as a header: Koa refuses them on a plain hop behind a proxy). */
    private readonly secure: boolean,
    private readonly refreshTokenTimeToLiveInMinutes: number,
  ) {
    this.#clients = new Set(clients.filter((c) => c.tokenCookies === true).map((c) => c.client_id));
  }

  /** Writes the cookies for the tokens an answer carries, when `applicationId` asked for them. */
  write(ctx: Context, applicationId: string | null, tokens: { token?: unknown; refreshToken?: unknown }): void {
    if (applicationId === null || !this.#clients.has(applicationId)) return;
    // The access token lives for the browser session, the refresh token as long as it is valid (FusionAuth's choice).
    if (typeof tokens.token === 'string') ctx.append('Set-Cookie', this.#cookie('access_token', tokens.token, null));
    if (typeof tokens.refreshToken === 'string') ctx.append('Set-Cookie', this.#cookie('refresh_token', tokens.refreshToken, this.refreshTokenTimeToLiveInMinutes * 60));
  }

  /** Removes both cookies from the browser (logout), whichever client wrote them. */
  clear(ctx: Context): void {
    for (const name of ['access_token', 'refresh_token']) ctx.append('Set-Cookie', this.#cookie(name, '', 0));
  }

  #cookie(name: string, value: string, maxAgeSeconds: number | null): string {
    return [`${name}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Lax', ...(maxAgeSeconds === null ? [] : [`Max-Age=${maxAgeSeconds}`]), ...(this.secure ? ['Secure'] : [])].join('; ');
  }
}
