import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type Provider from 'oidc-provider';
import type { Views } from '../render/views.js';
import type { CsrfTokens } from '../http/csrf.js';
import { ERROR_VIEW, renderPage, useInteractionLocale } from '../http/page.js';
import { AppError } from '../http/errors.js';
import type { PasswordlessCodes, CodeProblem } from '../passwordless/codes.js';
import type { ClientPolicy } from '../passwordless/magic-link.js';
import type { SignInMethod } from '../passwordless/accounts.js';
import {
  continueProgressOf,
  crossDeviceOf,
  progressOf,
  PAIR_NUMBER_PATTERN,
  type ApprovalOutcome,
  type CrossDeviceApprovals,
} from '../passwordless/approval.js';
import type { PasswordlessCodeRecord } from '../storage/types.js';
import { log } from '../log.js';
import { checkInboxBinding, formField, linkCodeOf, pairNumberOf, uidOf } from './forms.js';
import { interactionById, interactionOfBrowser, type Interaction } from './session.js';
import { browserMessage, networkMessage } from './request-context.js';
import type { CatalogueMessage, CheckInboxView } from './routes.js';

/**
 * The link opened on another device (DESIGN.md §1.2). That device only ever looks, types the
 * number, or says "this wasn't me"; the browser that started the sign-in polls
 * `approval-status` and finishes the login itself, so the app's callback lands where its
 * state and PKCE verifier are. Nothing here signs the other device in.
 */

export interface CrossDeviceDeps {
  provider: Provider;
  views: Views;
  codes: PasswordlessCodes;
  approvals: CrossDeviceApprovals;
  csrf: CsrfTokens;
  parseForm: Middleware;
  requireBrowserInteraction: (ctx: Context) => Promise<{ interaction: Interaction; client: ClientPolicy } | null>;
  /** Ends the step a redeemed code leads to: the sign-in, or for a sign-up code the sign-up form. */
  completeLogin: (ctx: Context, record: PasswordlessCodeRecord, client: ClientPolicy, method?: SignInMethod) => Promise<boolean>;
  renderCheckInbox: (ctx: Context, view: CheckInboxView) => Promise<void>;
  renderLinkProblem: (ctx: Context, uid: string, problem: CodeProblem, linkCode: string | null, interactionAlive?: boolean) => Promise<void>;
}

/** What the other device is told after it typed a number or refused. */
type ApprovalPage = 'approved' | 'denied' | 'wrong_number' | 'already_approved' | 'approval_void' | 'no_approval';

export interface CrossDeviceRoutes {
  /** The page a link shows on a device without the sign-in's cookie. Changes nothing. */
  renderLinkElsewhere(ctx: Context, linkCode: string, record: PasswordlessCodeRecord, status?: number, error?: CatalogueMessage): Promise<void>;
}

export function crossDeviceRoutes(router: Router, deps: CrossDeviceDeps): CrossDeviceRoutes {
  const { views, codes, approvals, csrf } = deps;

  async function renderLinkElsewhere(ctx: Context, linkCode: string, record: PasswordlessCodeRecord, status = 200, error: CatalogueMessage = '') {
    const uid = record.interactionUid ?? '';
    const crossDevice = crossDeviceOf(record);
    await renderPage(ctx, views, status, 'pages/link-elsewhere', {
      uid,
      linkCode,
      // Deliberately not the pair number: this page is what a scanner or a stranger sees.
      requestedFrom: crossDevice?.requestedFrom ?? null,
      browser: crossDevice ? browserMessage(String(crossDevice.requestedFrom.browser)) : null,
      network: crossDevice ? networkMessage(String(crossDevice.requestedFrom.network)) : null,
      approval: crossDevice?.approval ?? null,
      requestedAt: new Date(record.createdAt),
      expiresAt: new Date(record.expiresAt),
      shortCode: codes.shortCodeFor(linkCode, record),
      error,
      csrfApprove: csrf.issue('approve', uid),
      csrfDeny: csrf.issue('deny', uid),
    });
  }

  const renderApprovalPage = (ctx: Context, status: number, outcome: ApprovalPage, linkCode: string, record: PasswordlessCodeRecord) =>
    renderPage(ctx, views, status, 'pages/approval-result', {
      outcome,
      appName: crossDeviceOf(record)?.requestedFrom.appName ?? null,
      shortCode: outcome === 'denied' ? null : codes.shortCodeFor(linkCode, record),
    });

  const renderFormExpired = (ctx: Context) =>
    renderPage(ctx, views, 400, ERROR_VIEW, {
      title: 'error.title.formExpired',
      error: 'invalid_request',
      description: 'error.message.openLinkAgain',
    });

  /**
   * The code a POST from the other device names, if it is a usable code of this sign-in;
   * otherwise the matching page has been rendered and null is returned.
   */
  async function usableCodeOfForm(ctx: Context, purpose: 'approve' | 'deny'): Promise<{ linkCode: string; record: PasswordlessCodeRecord } | null> {
    const uid = uidOf(ctx);
    const linkCode = linkCodeOf(ctx);
    // This device has no cookie of the sign-in; its pages still speak the sign-in's language.
    const alive = await interactionById(deps.provider, uid);
    if (alive) useInteractionLocale(ctx, alive.params);
    if (!csrf.verify(purpose, uid, formField(ctx, 'csrf')) || linkCode === null) {
      await renderFormExpired(ctx);
      return null;
    }
    const lookup = await codes.inspect(linkCode);
    if (!lookup.record || lookup.record.interactionUid !== uid) {
      await deps.renderLinkProblem(ctx, uid, 'unknown', null);
      return null;
    }
    if (!lookup.usable) {
      await deps.renderLinkProblem(ctx, uid, lookup.problem, linkCode, alive !== null);
      return null;
    }
    return { linkCode, record: lookup.record };
  }

  /** Renders what an approval or refusal came to, on the other device. */
  async function renderOutcome(ctx: Context, outcome: ApprovalOutcome, success: ApprovalPage, linkCode: string, record: PasswordlessCodeRecord) {
    if (outcome.ok) return renderApprovalPage(ctx, 200, success, linkCode, record);
    const { problem } = outcome;
    if (problem === 'wrong_number' || problem === 'already_approved' || problem === 'approval_void' || problem === 'no_approval') {
      return renderApprovalPage(ctx, problem === 'wrong_number' ? 400 : 409, problem, linkCode, record);
    }
    return deps.renderLinkProblem(ctx, uidOf(ctx), problem, linkCode);
  }

  router.post('/approve', deps.parseForm, async (ctx) => {
    const found = await usableCodeOfForm(ctx, 'approve');
    if (!found) return;
    const typed = formField(ctx, 'number');
    const number = typeof typed === 'string' ? typed.trim() : '';
    // A malformed entry is a typing slip, not a guess: it does not void anything.
    if (!PAIR_NUMBER_PATTERN.test(number)) {
      return renderLinkElsewhere(ctx, found.linkCode, found.record, 400, 'elsewhere.numberMissing');
    }
    const outcome = await approvals.approve(found.record, number);
    log.info(outcome.ok ? 'approval.granted' : 'approval.refused', { client: found.record.clientId, ...(outcome.ok ? {} : { reason: outcome.problem }) });
    return renderOutcome(ctx, outcome, 'approved', found.linkCode, found.record);
  });

  router.post('/deny', deps.parseForm, async (ctx) => {
    const found = await usableCodeOfForm(ctx, 'deny');
    if (!found) return;
    const outcome = await approvals.deny(found.record);
    if (outcome.ok) log.info('approval.denied', { user: found.record.userId, client: found.record.clientId });
    return renderOutcome(ctx, outcome, 'denied', found.linkCode, found.record);
  });

  // Read-only and tiny: the original tab asks about once a second. Needs the sign-in's cookie.
  router.get('/approval-status', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    const uid = uidOf(ctx);
    const interaction = await interactionOfBrowser(deps.provider, ctx, uid);
    if (!interaction) return sendJsonError(ctx, new AppError(404, 'sign_in_gone', 'This sign-in request is over or belongs to another browser.'));
    const latest = await codes.latestForInteraction(uid);
    ctx.body = { state: progressOf(latest.record, Date.now()) };
  });

  router.post('/continue', deps.parseForm, async (ctx) => {
    const found = await deps.requireBrowserInteraction(ctx);
    if (!found) return;
    const { interaction, client } = found;
    const emailValue = formField(ctx, 'email');
    const page: CheckInboxView = {
      uid: interaction.uid,
      client,
      email: typeof emailValue === 'string' ? emailValue.slice(0, 254) : '',
      pairNumber: pairNumberOf(ctx),
    };
    if (!csrf.verify('continue', checkInboxBinding(page.uid, page.pairNumber), formField(ctx, 'csrf'))) {
      return deps.renderCheckInbox(ctx, { ...page, pairNumber: '', status: 403, error: 'form.expired' });
    }
    const latest = await codes.latestForInteraction(interaction.uid);
    const progress = continueProgressOf(latest.record, Date.now());
    if (progress === 'approved' && latest.record) {
      const redeemed = await approvals.redeemApproved(latest.record);
      if (redeemed.ok) log.info('code.redeemed', { user: redeemed.record.userId, client: client.clientId, method: 'cross_device' });
      if (redeemed.ok && (await deps.completeLogin(ctx, redeemed.record, client, 'magic_link_cross_device'))) return;
    }
    if (progress === 'denied') return renderPage(ctx, views, 409, 'pages/sign-in-denied', { uid: interaction.uid, client });
    return deps.renderCheckInbox(ctx, { ...page, status: 409, ...continueMessage(progress) });
  });

  return { renderLinkElsewhere };
}

/** What the original tab says when it cannot continue yet (catalogue keys). */
function continueMessage(progress: ReturnType<typeof continueProgressOf>): { error?: CatalogueMessage; notice?: CatalogueMessage } {
  switch (progress) {
    case 'expired':
      // Like the page of an expired link: says so, and the page's "Send a new link" sends a fresh one for this sign-in.
      return { error: 'continue.expired' };
    case 'void':
      return { error: 'continue.void' };
    case 'used':
      return { error: 'continue.used' };
    case 'approved':
      return { error: 'continue.approvalUnusable' };
    default:
      return { notice: 'continue.waiting' };
  }
}

function sendJsonError(ctx: Context, error: AppError): void {
  ctx.status = error.status;
  ctx.body = { error: error.code, message: error.message };
}
