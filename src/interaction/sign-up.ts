import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import ejs from 'ejs';
import type { PasswordlessCodeRecord } from '../storage/types.js';
import type { AccountDirectory, SignInMethod } from '../passwordless/accounts.js';
import type { ClientPolicy } from '../passwordless/magic-link.js';
import type { PasswordlessCodes } from '../passwordless/codes.js';
import type { CsrfTokens } from '../http/csrf.js';
import type { Views } from '../render/views.js';
import { renderPage } from '../http/page.js';
import { SIGN_UP_STAGE, readSignUpForm, signUpEmailOf, signUpSettingsFor, type SignUpFormProblem, type SignUpSettings } from '../passwordless/sign-up.js';
import type { Interaction } from './session.js';
import { formField } from './forms.js';

export interface SignUpDeps {
  views: Views;
  csrf: CsrfTokens;
  codes: PasswordlessCodes;
  accounts: AccountDirectory;
  parseForm: Middleware;
  requireBrowserInteraction: (ctx: Context) => Promise<{ interaction: Interaction; client: ClientPolicy } | null>;
  renderGone: (ctx: Context) => Promise<void>;
  /** Signs `userId` in to `client`; false when the account may not (nothing was done). */
  signIn: (ctx: Context, userId: string, client: ClientPolicy, method: SignInMethod) => Promise<boolean>;
  /** The page of a link that cannot sign in (here: the account made meanwhile may not use the client). */
  renderNotAllowed: (ctx: Context, uid: string) => Promise<void>;
}

type FormView = { uid: string; client: ClientPolicy; email: string; settings: SignUpSettings; status?: number; problems?: SignUpFormProblem[]; values?: Record<string, string> };

/** The sign-up step of the hosted pages: what the email form, a redeemed code and the sign-in's page ask of it. */
export interface SignUpStep {
  /** The client's settings when a new address may create an account there (accounts can be made and the client allows it). */
  settingsFor(client: ClientPolicy): SignUpSettings | null;
  /** For a redeemed sign-up code, renders the form and says so; false for any other code. */
  showFormFor(ctx: Context, record: PasswordlessCodeRecord, client: ClientPolicy): Promise<boolean>;
  /** Renders the form again when this sign-in's sign-up waits for it (a reload); false otherwise. */
  showPendingForm(ctx: Context, interaction: Interaction, client: ClientPolicy): Promise<boolean>;
}

/**
 * Sign-up with a magic link, after the code: the form (the configured fields, the terms) shown in
 * the browser where the sign-in began, and its POST, which makes the account once and signs it in.
 */
export function signUpRoutes(router: Router, deps: SignUpDeps): SignUpStep {
  const { views, csrf, codes, accounts } = deps;
  const settingsFor = (client: ClientPolicy): SignUpSettings | null => signUpSettingsFor(accounts, client);

  const renderForm = (ctx: Context, view: FormView) =>
    renderPage(ctx, views, view.status ?? 200, 'pages/sign-up', {
      uid: view.uid,
      client: view.client,
      email: view.email,
      fields: view.settings.fields,
      termsUrl: view.settings.termsUrl,
      termsAnchor: view.settings.termsUrl ? [`<a href="${ejs.escapeXML(view.settings.termsUrl)}" target="_blank" rel="noopener">`, '</a>'] : null,
      problems: view.problems ?? [],
      values: view.values ?? {},
      csrf: csrf.issue('sign-up', view.uid),
    });

  /**
   * This sign-in's sign-up waiting for its form: its code redeemed here, the form not sent yet.
   * Read only on clients that allow sign-up, so other sign-ins pay no store read for it.
   */
  async function pending(interaction: Interaction, client: ClientPolicy) {
    const settings = settingsFor(client);
    const record = settings ? (await codes.latestForInteraction(interaction.uid)).record : null;
    const email = record ? signUpEmailOf(record) : null;
    if (!settings || !record || !email || record.status !== 'used' || record.extra?.[SIGN_UP_STAGE] !== 'pending') return null;
    return { settings, record, email };
  }

  router.post('/sign-up', deps.parseForm, async (ctx) => {
    const found = await deps.requireBrowserInteraction(ctx);
    if (!found) return;
    const { interaction, client } = found;
    const signUp = await pending(interaction, client);
    if (!signUp) return deps.renderGone(ctx);
    const { settings, record, email } = signUp;
    const page = { uid: interaction.uid, client, email, settings };
    if (!csrf.verify('sign-up', interaction.uid, formField(ctx, 'csrf'))) return renderForm(ctx, { ...page, status: 403, problems: [{ field: null, key: 'form.expired' }] });
    const form = readSignUpForm(settings, (ctx.request.body ?? {}) as Record<string, unknown>);
    if (!form.ok) return renderForm(ctx, { ...page, status: 400, problems: form.problems, values: form.values });
    // One send of the form makes the account: a second (a double click, another tab) finds the stage moved on.
    if (!(await codes.markSignUpDone(record))) return deps.renderGone(ctx);
    const account = await accounts.createAccount!({ email, fields: form.fields, roles: settings.defaultRoles }, client);
    // The account another sign-up or the API made meanwhile may not be allowed here.
    if (!(await deps.signIn(ctx, account.id, client, 'sign_up'))) return deps.renderNotAllowed(ctx, interaction.uid);
  });

  return {
    settingsFor,
    async showFormFor(ctx, record, client) {
      const email = signUpEmailOf(record);
      const settings = email ? settingsFor(client) : null;
      if (!email || !settings || !record.interactionUid) return false;
      await renderForm(ctx, { uid: record.interactionUid, client, email, settings });
      return true;
    },
    async showPendingForm(ctx, interaction, client) {
      const signUp = interaction.prompt.name === 'login' ? await pending(interaction, client) : null;
      if (!signUp) return false;
      await renderForm(ctx, { uid: interaction.uid, client, email: signUp.email, settings: signUp.settings });
      return true;
    },
  };
}
