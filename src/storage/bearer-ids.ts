import { hash } from 'node:crypto';
import type { AdapterPayload } from 'oidc-provider';

/**
 * node-oidc-provider keeps each entity under its id, and for these models the id is the bearer
 * value itself (an opaque access or refresh token, an authorization code, a session cookie's
 * value…): whoever reads the store could replay it. The adapters keep them under a SHA-256 of the
 * id instead, and without the `jti` copy node-oidc-provider puts in the payload; a read by id
 * gives the id back. (The ids carry 256 random bits: a plain digest cannot be reversed.)
 *
 * Left out: Client, Grant, Interaction and ReplayDetection (their ids are not credentials), and
 * DeviceCode, which node-oidc-provider finds by its user code and saves again by the `jti` of the
 * payload it found (with the device flow on, its device_code is stored as is).
 */
export const BEARER_ID_MODELS: ReadonlySet<string> = new Set([
  'Session',
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'ClientCredentials',
  'InitialAccessToken',
  'RegistrationAccessToken',
  'PushedAuthorizationRequest',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
]);

/** The key an entity of `model` is stored under. The prefix keeps it apart from an id stored as is before this existed. */
export function storedId(model: string, id: string): string {
  return BEARER_ID_MODELS.has(model) ? `sha256:${hash('sha256', id, 'base64url')}` : id;
}

/** The payload as stored: without the id for the models whose id is a secret. */
export function storedPayload(model: string, payload: AdapterPayload): AdapterPayload {
  if (!BEARER_ID_MODELS.has(model) || payload.jti === undefined) return payload;
  const { jti: _secret, ...rest } = payload;
  return rest;
}

/** A payload read by its id, with the id back where node-oidc-provider expects it. */
export function loadedPayload(model: string, payload: AdapterPayload | undefined, id: string): AdapterPayload | undefined {
  if (!payload || !BEARER_ID_MODELS.has(model) || payload.jti !== undefined) return payload;
  return { ...payload, jti: id };
}
