import * as z from 'zod';
import { createRoute } from '@hono/zod-openapi';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { isSyncError } from '@crm-sync/core';
import type { Runtime } from '../../wiring/runtime.js';
import { requireEntity } from '../entity-guard.js';
import { apiFailure } from '../errors.js';
import { entityParamSchema, errorSchema, fieldValueSchema, jsonErrorResponses } from '../schemas.js';

const rules = ['create', 'pull', 'push', 'collision', 'fan-out', 'quick-sync', 'local-edit', 'account-link', 'sync-filter'] as const;

export const fieldHistoryStepSchema = z
  .object({
    seq: z.number().nullable().meta({ description: 'The entry number; null for the value the record was created with (read from the record).' }),
    at: z.string().nullable().meta({ description: 'When (ISO-8601); null when unknown (history pruned, or older than field history).' }),
    rule: z.enum(rules).meta({ description: 'What set the value: a pull, a push the CRM accepted, a collision, an account fan-out, a Quick Sync, a local edit, a move to another account, the sync filter.' }),
    side: z.enum(['crm', 'local']),
    value: fieldValueSchema.meta({ description: 'The value the field held locally after this step.' }),
    oldValue: fieldValueSchema,
    collision: z.object({ localValue: fieldValueSchema, crmValue: fieldValueSchema, winner: z.enum(['local', 'crm']) }).nullable(),
    accountId: z.string().nullable().meta({ description: 'The account whose fan-out this is (rule fan-out).' }),
    detail: z.string().nullable(),
  })
  .meta({ id: 'FieldHistoryStep' });

export const fieldHistorySchema = z
  .object({
    entity: z.string(),
    id: z.string(),
    field: z.string(),
    current: fieldValueSchema,
    steps: z.array(fieldHistoryStepSchema),
    next: z.number().nullable().meta({ description: 'Cursor for the next page (`after`), or null at the end.' }),
  })
  .meta({ id: 'FieldHistory' });

const historyParams = entityParamSchema.extend({
  id: z.string().min(1).max(200).meta({ param: { name: 'id', in: 'path' } }),
  field: z
    .string()
    .regex(/^(company\.)?[a-z][a-z0-9_]*$/, 'must be a field name (lowercase letters, digits and "_"), or company.<field> for an account field on a contact')
    .meta({ param: { name: 'field', in: 'path' }, example: 'jobtitle' }),
});

const historyRoute = createRoute({
  method: 'get',
  path: '/api/v1/entities/{entity}/records/{id}/fields/{field}/history',
  summary: 'Why a field holds its value: every value it held locally, oldest first, with when, the side and the rule',
  description:
    'The first page opens with the value the record was created with (read from the record: a first load writes no history). ' +
    'Then each step: a pull, a push the CRM accepted, a collision (both values and the winner), an account fan-out ' +
    '(`company.<field>` on a contact), a Quick Sync, a local edit, a move to another account. Entries older than ' +
    '`sync.historyRetentionDays` are removed.',
  tags: ['records'],
  request: {
    params: historyParams,
    query: z.object({
      limit: z.coerce.number().int().min(1).max(1_000).default(100),
      after: z.coerce.number().int().min(0).optional().meta({ description: 'Cursor: the `next` of the previous page.' }),
    }),
  },
  responses: {
    200: { description: "The field's history", content: { 'application/json': { schema: fieldHistorySchema } } },
    ...jsonErrorResponses,
    404: { description: 'Unknown entity or record', content: { 'application/json': { schema: errorSchema } } },
    501: { description: 'FIELD_HISTORY_UNAVAILABLE: the store keeps no field history', content: { 'application/json': { schema: errorSchema } } },
  },
});

export function registerHistoryRoutes(app: OpenAPIHono, runtime: Runtime): void {
  app.openapi(historyRoute, async (c) => {
    const { entity: name, id, field } = c.req.valid('param');
    const entity = requireEntity(runtime, name);
    const q = c.req.valid('query');
    try {
      const report = await runtime.engine.fieldHistory(entity, id, field, { limit: q.limit, ...(q.after !== undefined ? { after: q.after } : {}) });
      return c.json(report, 200);
    } catch (error) {
      if (isSyncError(error, 'RECORD_UNKNOWN')) throw apiFailure(404, 'RECORD_NOT_FOUND', `No ${entity} with id ${id}`);
      if (isSyncError(error, 'FIELD_HISTORY_UNAVAILABLE')) throw apiFailure(501, 'FIELD_HISTORY_UNAVAILABLE', error.message);
      throw error;
    }
  });
}
