import type { Middleware } from 'koa';
import { z } from 'zod';
import { fieldError } from './validation.js';

const uuid = z.uuid();

/**
 * FusionAuth's `X-FusionAuth-TenantId` header. This server is one tenant: with `api.tenantId`
 * configured (the id the integration used with FusionAuth), that id is accepted and any other is
 * refused, so a call meant for another tenant changes nothing here; without it, any well-formed
 * id is taken to mean this one. A header that is no UUID is always refused.
 */
export function tenantGuard(tenantId: string | null): Middleware {
  const expected = tenantId?.toLowerCase() ?? null;
  return async (ctx, next) => {
    const given = ctx.get('x-fusionauth-tenantid').trim();
    if (given !== '') {
      if (!uuid.safeParse(given).success) throw fieldError('tenantId', 'invalid', 'X-FusionAuth-TenantId must be a tenant id (a UUID).');
      if (expected !== null && given.toLowerCase() !== expected) throw fieldError('tenantId', 'invalid', 'No tenant has this id.');
    }
    await next();
  };
}
