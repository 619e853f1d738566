import type Router from '@koa/router';
import type { Middleware } from 'koa';
import { z } from 'zod';
import { WEBHOOK_DELIVERY_STATUSES, type WebhookDeliveryRecord, type WebhookDeliveryRepository } from '../storage/types.js';
import { parseInput } from './validation.js';

const attemptsQuery = z.object({
  status: z.enum(WEBHOOK_DELIVERY_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** A delivery as the operations API shows it: its state, not its body (which `event.id` names). */
function attemptJson(delivery: WebhookDeliveryRecord): Record<string, unknown> {
  return {
    eventId: delivery.eventId,
    eventType: delivery.type,
    webhookId: delivery.webhookId,
    status: delivery.status,
    attempts: delivery.attempts,
    createInstant: delivery.createdAt,
    nextAttemptInstant: delivery.status === 'pending' ? delivery.nextAttemptAt : null,
    lastStatusCode: delivery.lastStatus,
    lastError: delivery.lastError,
    settledInstant: delivery.settledAt,
  };
}

/** GET /api/webhook/attempts: pending, delivered and failed deliveries, newest first (an API key with that permission). */
export function webhookRoutes(router: Router, deps: { deliveries: WebhookDeliveryRepository; requireKey: Middleware }): void {
  router.get('/webhook/attempts', deps.requireKey, async (ctx) => {
    const query = parseInput(attemptsQuery, ctx.query);
    const deliveries = await deps.deliveries.list({ limit: query.limit, ...(query.status ? { status: query.status } : {}) });
    ctx.body = { attempts: deliveries.map(attemptJson) };
  });
}
