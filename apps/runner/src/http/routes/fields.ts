import * as z from 'zod';
import { createRoute } from '@hono/zod-openapi';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Runtime } from '../../wiring/runtime.js';
import { requireEntity } from '../entity-guard.js';
import { entityParamSchema, errorSchema, fieldNameSchema, fieldPlanSchema, jsonErrorResponses } from '../schemas.js';

const planRoute = createRoute({
  method: 'get',
  path: '/api/v1/entities/{entity}/fields',
  summary: 'Fields synced and pushed, and every field left out with the reason (fresh metadata)',
  tags: ['fields'],
  request: { params: entityParamSchema },
  responses: {
    200: { description: 'Field plan', content: { 'application/json': { schema: fieldPlanSchema } } },
    ...jsonErrorResponses,
    404: { description: 'Unknown entity', content: { 'application/json': { schema: errorSchema } } },
  },
});

const addRoute = createRoute({
  method: 'post',
  path: '/api/v1/entities/{entity}/fields',
  summary: 'Add a CRM field to the sync and backfill it for every record (Quick Sync, R10); a field already synced is left as it is',
  tags: ['fields'],
  request: {
    params: entityParamSchema,
    body: { required: true, content: { 'application/json': { schema: z.strictObject({ field: fieldNameSchema }).meta({ id: 'AddField' }) } } },
  },
  responses: {
    200: {
      description: 'Added, and `backfilled` records got the field; or `alreadySynced`: the field plan syncs it already and nothing changed',
      content: {
        'application/json': {
          schema: z.object({ entity: z.string(), field: z.string(), backfilled: z.number(), alreadySynced: z.boolean() }).meta({ id: 'AddFieldResult' }),
        },
      },
    },
    ...jsonErrorResponses,
    404: { description: 'Unknown entity', content: { 'application/json': { schema: errorSchema } } },
    422: {
      description:
        'Refused, with the reason: not in the CRM (FIELD_NOT_IN_CRM), not readable by the sync user (FIELD_NOT_READABLE), or not addable this way: the primary key, a CRM bookkeeping column under the selection "all" (FIELD_NOT_ADDABLE)',
      content: { 'application/json': { schema: errorSchema } },
    },
  },
});

export function registerFieldRoutes(app: OpenAPIHono, runtime: Runtime): void {
  app.openapi(planRoute, async (c) => {
    const entity = requireEntity(runtime, c.req.valid('param').entity);
    const plan = await runtime.engine.fieldPlan(entity);
    return c.json({ entity, ...plan }, 200);
  });
  app.openapi(addRoute, async (c) => {
    const entity = requireEntity(runtime, c.req.valid('param').entity);
    const { field } = c.req.valid('json');
    const result = await runtime.engine.addField(entity, field);
    runtime.logger.info(result.alreadySynced ? 'field already synced' : 'field added (Quick Sync)', { ...result });
    return c.json(result, 200);
  });
}
