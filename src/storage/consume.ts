import { errors } from 'oidc-provider';

/**
 * A rejected consume means another request consumed the same entity between
 * node-oidc-provider's `consumed` check and its `consume()` call: the loser of that race
 * must fail the way a replay does, not be served a second time. Both stores use it.
 */
export function alreadyConsumed(model: string): Error {
  if (model === 'PushedAuthorizationRequest') {
    return new errors.InvalidRequestUri('request_uri is invalid, expired, or was already used');
  }
  return new errors.InvalidGrant(`${model} already consumed`);
}
