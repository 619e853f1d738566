import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { OperationHistogram } from './operation-histogram.js';

/**
 * The server's Prometheus metrics. Every label takes its value from a closed list (a
 * configured client id, a route template, a reason the code names), so no label can carry a
 * link code, a typed code, an address or a token, and a stranger cannot grow the series count.
 * Sign-in facts come from the audit events the code already logs (see {@link Metrics.observeEvent}).
 */

/** Label value for anything outside a label's closed list. */
const OTHER = 'other';

/** A label value from a closed list; anything else becomes `other`. */
function oneOf<T extends string>(allowed: ReadonlySet<T>, value: unknown): T | typeof OTHER {
  return typeof value === 'string' && allowed.has(value as T) ? (value as T) : OTHER;
}

const set = <T extends string>(...values: T[]): ReadonlySet<T> => new Set(values);

const CHANNELS = set('hosted', 'api');
const LINK_OPENED = set('same_browser', 'other_browser', 'scanner_like');
const CODE_METHODS_TYPED: ReadonlySet<unknown> = set('typed', 'api_typed');
const FAILURE_REASONS = set('not_allowed', 'prevented', 'locked', 'expired');
const NOT_SENT_REASONS = set('no_account', 'not_allowed');
const RATE_RULES = set('sendPerAddress', 'sendPerIp', 'sendGlobal', 'typedCodesPerAccount', 'wrongCodesPerIp', 'wrongCodesGlobal');
const MAIL_PURPOSES = set('hosted', 'api');
const HTTP_METHODS = set('GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS');

/** Which sign-in channel an audit event's `method` field names. */
function channelOf(method: unknown): 'hosted' | 'api' {
  return typeof method === 'string' && method.startsWith('api') ? 'api' : 'hosted';
}

export interface MetricsOptions {
  /** Client ids that may appear as `client` label values; any other id is `other`. */
  clientIds: Iterable<string>;
  /** Node.js process metrics (CPU, memory, event-loop lag, GC); default true. */
  processMetrics?: boolean;
}

export class Metrics {
  readonly registry = new Registry();
  readonly #clients: ReadonlySet<string>;
  readonly #c: ReturnType<typeof instruments>;

  constructor(options: MetricsOptions) {
    this.#clients = new Set(options.clientIds);
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.#c = instruments(this.registry);
  }

  #client(id: unknown): string {
    return typeof id === 'string' && this.#clients.has(id) ? id : OTHER;
  }

  /** Counts what one audit event says happened (events not listed here are not counted). */
  observeEvent(event: string, fields: Readonly<Record<string, unknown>>): void {
    const c = this.#c;
    switch (event) {
      case 'code.requested':
        // A resend continues a sign-in that was already counted.
        if (fields.method !== 'resend') c.signInsStarted.inc({ channel: channelOf(fields.method), client: this.#client(fields.client) });
        return;
      case 'mail.queued':
        return c.emails.inc({ purpose: oneOf(MAIL_PURPOSES, fields.purpose), outcome: 'queued', reason: '' });
      case 'mail.accepted':
        return c.emails.inc({ purpose: oneOf(MAIL_PURPOSES, fields.purpose), outcome: 'sent', reason: '' });
      case 'mail.retry':
        return c.emails.inc({ purpose: oneOf(MAIL_PURPOSES, fields.purpose), outcome: 'retried', reason: 'transient' });
      case 'mail.failed':
        return c.emails.inc({ purpose: oneOf(MAIL_PURPOSES, fields.purpose), outcome: 'failed', reason: fields.permanent ? 'permanent' : 'transient' });
      case 'code.not_sent':
        return c.emails.inc({ purpose: channelOf(fields.method), outcome: 'not_sent', reason: oneOf(NOT_SENT_REASONS, fields.reason) });
      case 'link.opened':
        return c.linksOpened.inc({ channel: oneOf(CHANNELS, fields.channel), opened_in: oneOf(LINK_OPENED, fields.openedIn) });
      case 'code.redeemed':
        if (CODE_METHODS_TYPED.has(fields.method)) c.typedCodes.inc({ channel: channelOf(fields.method), outcome: 'right' });
        return;
      case 'code.rejected':
        if (CODE_METHODS_TYPED.has(fields.method)) c.typedCodes.inc({ channel: channelOf(fields.method), outcome: 'wrong' });
        return;
      case 'approval.granted':
        return c.approvals.inc({ outcome: 'given' });
      case 'approval.denied':
        return c.approvals.inc({ outcome: 'refused' });
      case 'approval.refused':
        return c.approvals.inc({ outcome: 'failed' });
      case 'two_factor.prompted':
        return c.secondFactor.inc({ channel: oneOf(CHANNELS, fields.channel), outcome: 'prompted' });
      case 'two_factor.accepted':
        return c.secondFactor.inc({ channel: oneOf(CHANNELS, fields.channel), outcome: 'accepted' });
      case 'two_factor.rejected':
        return c.secondFactor.inc({ channel: oneOf(CHANNELS, fields.channel), outcome: 'rejected' });
      case 'login.success':
        return c.signInsCompleted.inc({ channel: channelOf(fields.method), client: this.#client(fields.client) });
      case 'login.failure':
        return c.signInsRefused.inc({ channel: channelOf(fields.method), reason: oneOf(FAILURE_REASONS, fields.reason) });
      case 'ratelimit.hit':
        return c.rateLimited.inc({ limit: oneOf(RATE_RULES, fields.rule) });
      case 'refresh.reuse_detected':
        return c.refreshReuse.inc();
      default:
        return;
    }
  }

  /** One answered HTTP request: `route` is a template (see RouteTemplates), never a raw path. */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    const labels = { method: oneOf(HTTP_METHODS, method), route, status: String(status) };
    this.#c.httpDuration.observe(labels, seconds);
    if (route.startsWith('/api/')) this.#c.apiRequests.inc(labels);
  }

  /** One store call: `operation` is `<repository>.<method>` (or `oidc.<model>.<method>`). */
  observeStore(operation: string, seconds: number, failed: boolean): void {
    this.#c.storeDuration.observe(operation, seconds);
    if (failed) this.#c.storeErrors.inc({ operation });
  }

  /** The exposition text (Prometheus text format 0.0.4) and its content type. */
  async exposition(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }
}

const PREFIX = 'oml_';

function instruments(registry: Registry) {
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Counter<L>({ name: PREFIX + name, help, labelNames, registers: [registry] });
  return {
    signInsStarted: counter('sign_ins_started_total', 'Sign-ins started: an address submitted on the hosted page, or an API start.', ['channel', 'client']),
    signInsCompleted: counter('sign_ins_completed_total', 'Sign-ins completed (hosted: the login finished; api: /api/passwordless/login answered 200).', ['channel', 'client']),
    signInsRefused: counter('sign_ins_refused_total', 'Sign-ins refused after the code was good (the account may not sign in to that client).', ['channel', 'reason']),
    emails: counter('emails_total', 'Sign-in emails by outcome: queued, sent (accepted by the SMTP server), retried, failed, not_sent (no such account).', ['purpose', 'outcome', 'reason']),
    linksOpened: counter('links_opened_total', 'Emailed links opened: in the browser that asked, in another browser, or scanner-like (HEAD, or a GET carrying no cookie).', ['channel', 'opened_in']),
    typedCodes: counter('typed_codes_total', 'Codes typed by hand: right or wrong.', ['channel', 'outcome']),
    approvals: counter('cross_device_approvals_total', 'Cross-device approvals: given, refused by the user, failed (wrong number, void).', ['outcome']),
    secondFactor: counter('second_factor_total', 'Second-factor steps: prompted, accepted, rejected.', ['channel', 'outcome']),
    rateLimited: counter('rate_limit_refusals_total', 'Requests refused by a rate limit, by limit name.', ['limit']),
    refreshReuse: counter('refresh_token_reuse_total', 'Rotated refresh tokens presented again (the whole chain is revoked).', []),
    apiRequests: counter('api_requests_total', 'REST API requests by route template and status.', ['method', 'route', 'status']),
    httpDuration: new Histogram({
      name: `${PREFIX}http_request_duration_seconds`,
      help: 'HTTP request duration by route template, method and status.',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    storeDuration: new OperationHistogram(
      `${PREFIX}store_operation_duration_seconds`,
      'Store operation duration by operation.',
      'operation',
      [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registry,
    ),
    storeErrors: counter('store_errors_total', 'Store operations that failed, by operation.', ['operation']),
  };
}
