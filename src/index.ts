/**
 * oidc-magic-link: magic-link sign-in for node-oidc-provider.
 *
 * ```ts
 * const ml = magicLink({ findAccountByEmail, mail: { smtpUrl, from } });
 * const provider = new Provider(issuer, { ...yours, interactions: ml.interactions() });
 * ml.mount(provider);
 * ```
 * The MongoDB adapter and store are in `oidc-magic-link/mongodb`.
 */
export { magicLink, type MagicLink, type SignInForm } from './plugin/magic-link.js';
export {
  MagicLinkOptionsError,
  type MagicLinkOptions,
  type MagicLinkAccount,
  type MagicLinkClient,
  type MagicLinkMailOptions,
  type MagicLinkMessage,
  type MagicLinkMessageParts,
  type MagicLinkSecondFactor,
  type MagicLinkStore,
  type MailTransporterLike,
  type RateRuleOption,
} from './plugin/options.js';
export type { MailStats } from './mail/delivery.js';
