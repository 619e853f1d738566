import type Router from '@koa/router';
import { baseOf } from '../http/page.js';
import type { Context, Middleware } from 'koa';
import type Provider from 'oidc-provider';
import type { CsrfTokens } from '../http/csrf.js';
import type { ClientPolicy } from '../passwordless/magic-link.js';
import { finishInteraction, type Interaction } from './session.js';

interface ConsentDeps {
  provider: Provider;
  csrf: CsrfTokens;
  parseForm: Middleware;
  formField: (ctx: Context, name: string) => unknown;
  requireBrowserInteraction: (ctx: Context) => Promise<{ interaction: Interaction; client: ClientPolicy } | null>;
  /** The page of the step the sign-in is at, with a status and message (see interactionRoutes). */
  renderCurrentStep: (ctx: Context, interaction: Interaction, client: ClientPolicy, status?: number, error?: string) => Promise<void>;
}

/** What the consent prompt says is missing, as plain lists. */
function missingOf(interaction: Interaction): { scopes: string[]; claims: string[] } {
  const details = interaction.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
  return { scopes: details.missingOIDCScope ?? [], claims: details.missingOIDCClaims ?? [] };
}

/** Consent for clients that are not first-party: the user approves the scopes the app asked for. */
export function consentRoutes(router: Router, deps: ConsentDeps): void {
  const { provider, csrf } = deps;

  router.post('/consent', deps.parseForm, async (ctx) => {
    const found = await deps.requireBrowserInteraction(ctx);
    if (!found) return;
    const { interaction, client } = found;
    // A forged or expired token is refused like on every other form; nothing is granted.
    if (!csrf.verify('consent', interaction.uid, deps.formField(ctx, 'csrf'))) return deps.renderCurrentStep(ctx, interaction, client, 403, 'form.expired');
    // A genuine consent form of a sign-in that has moved on: show the step it is at now.
    if (interaction.prompt.name !== 'consent') {
      ctx.redirect(`${baseOf(ctx)}/interaction/${interaction.uid}`);
      return;
    }
    const accountId = interaction.session?.accountId;
    const clientId = interaction.params.client_id as string;
    const grant = interaction.grantId
      ? ((await provider.Grant.find(interaction.grantId)) ?? new provider.Grant({ accountId, clientId }))
      : new provider.Grant({ accountId, clientId });
    const missing = missingOf(interaction);
    if (missing.scopes.length > 0) grant.addOIDCScope(missing.scopes.join(' '));
    if (missing.claims.length > 0) grant.addOIDCClaims(missing.claims);
    const grantId = await grant.save();
    await finishInteraction(provider, ctx, { consent: { grantId } }, true);
  });
}
