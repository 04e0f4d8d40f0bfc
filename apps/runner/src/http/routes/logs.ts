import * as z from 'zod';
import { createRoute } from '@hono/zod-openapi';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Page, QuarantineEntry } from '@crm-sync/core';
import type { Runtime } from '../../wiring/runtime.js';
import { toCsv } from '../csv.js';
import { requireEntity } from '../entity-guard.js';
import { activitySchema, booleanText, collisionSchema, errorSchema, jsonErrorResponses, logQuerySchema, pageOf, quarantineEntrySchema, syncErrorSchema } from '../schemas.js';
import { latestEntries } from '../tail.js';

const notFound = { description: 'Unknown entity', content: { 'application/json': { schema: errorSchema } } };
const csvContent = { 'text/csv': { schema: z.string() } };

const activitiesRoute = createRoute({
  method: 'get',
  path: '/api/v1/activities',
  summary: 'The activity log (Change Data Value, new persons, CRM deletes, ...)',
  tags: ['logs'],
  request: { query: logQuerySchema.extend({ recordId: z.string().optional() }) },
  responses: {
    200: { description: 'Activities, oldest first (newest first with latest=true)', content: { 'application/json': { schema: pageOf(activitySchema) } } },
    ...jsonErrorResponses,
    404: notFound,
  },
});

const collisionsRoute = createRoute({
  method: 'get',
  path: '/api/v1/collisions',
  summary: 'Fields changed on both sides, with both values and the winner (R2)',
  tags: ['logs'],
  request: { query: logQuerySchema },
  responses: {
    200: { description: 'Collisions', content: { 'application/json': { schema: pageOf(collisionSchema) } } },
    ...jsonErrorResponses,
    404: notFound,
  },
});

const quarantineRoute = createRoute({
  method: 'get',
  path: '/api/v1/quarantine',
  summary: 'Records that could not be applied or pushed, with the reason (CSV with format=csv)',
  tags: ['logs'],
  request: {
    query: logQuerySchema.extend({
      includeResolved: booleanText.optional(),
      format: z.enum(['json', 'csv']).default('json'),
    }),
  },
  responses: {
    200: { description: 'Quarantine entries', content: { 'application/json': { schema: pageOf(quarantineEntrySchema) }, ...csvContent } },
    ...jsonErrorResponses,
    404: notFound,
  },
});

const errorsRoute = createRoute({
  method: 'get',
  path: '/api/v1/errors',
  summary: "Sync errors, newest first: open quarantine entries and failed entity runs (Marketo's Sync Errors tab)",
  tags: ['logs'],
  request: {
    query: z.object({
      entity: z.string().optional(),
      limit: z.coerce.number().int().min(1).max(10_000).default(500),
      format: z.enum(['json', 'csv']).default('json'),
    }),
  },
  responses: {
    200: { description: 'Sync errors', content: { 'application/json': { schema: z.object({ items: z.array(syncErrorSchema) }) }, ...csvContent } },
    ...jsonErrorResponses,
    404: notFound,
  },
});

type LogQuery = z.output<typeof logQuerySchema>;

/** A forward page, or with `latest` the newest entries (newest first). */
async function logPage<T extends { seq: number }>(q: LogQuery, list: (o: { after?: number; limit: number }) => Promise<Page<T>>): Promise<Page<T>> {
  if (q.latest) return { items: await latestEntries(list, q.limit), next: null };
  return list({ limit: q.limit, ...(q.after !== undefined ? { after: q.after } : {}) });
}

const quarantineCsv = (items: readonly QuarantineEntry[]) =>
  toCsv(
    ['seq', 'at', 'entity', 'recordId', 'direction', 'reason', 'resolvedAt', 'payload'],
    items.map((q) => [q.seq, q.at, q.entity, q.recordId, q.direction, q.reason, q.resolvedAt, q.payload]),
  );

export function registerLogRoutes(app: OpenAPIHono, runtime: Runtime): void {
  const { store } = runtime;
  const entityOf = (name: string | undefined) => (name === undefined ? {} : { entity: requireEntity(runtime, name) });

  app.openapi(activitiesRoute, async (c) => {
    const q = c.req.valid('query');
    const filter = { ...entityOf(q.entity), ...(q.recordId ? { recordId: q.recordId } : {}) };
    return c.json(await logPage(q, (o) => store.listActivities({ ...filter, ...o })), 200);
  });

  app.openapi(collisionsRoute, async (c) => {
    const q = c.req.valid('query');
    const filter = entityOf(q.entity);
    return c.json(await logPage(q, (o) => store.listCollisions({ ...filter, ...o })), 200);
  });

  app.openapi(quarantineRoute, async (c) => {
    const q = c.req.valid('query');
    const filter = { ...entityOf(q.entity), ...(q.includeResolved ? { includeResolved: true } : {}) };
    const page = await logPage(q, (o) => store.listQuarantine({ ...filter, ...o }));
    if (q.format === 'csv') {
      return c.body(quarantineCsv(page.items), 200, { 'Content-Type': 'text/csv; charset=utf-8', 'Content-Disposition': 'attachment; filename="quarantine.csv"' });
    }
    return c.json(page, 200);
  });

  app.openapi(errorsRoute, async (c) => {
    const q = c.req.valid('query');
    const filter = entityOf(q.entity);
    const quarantined = await latestEntries((o) => store.listQuarantine({ ...filter, ...o }), q.limit);
    const failures = runtime.history.failures().filter((f) => !filter.entity || f.entity === filter.entity);
    const items = [
      ...quarantined.map((e) => ({ seq: e.seq, at: e.at, entity: e.entity, recordId: e.recordId, type: e.direction, code: 'QUARANTINED', message: e.reason })),
      ...failures.map((f) => ({ seq: null, at: f.at, entity: f.entity, recordId: null, type: 'entity' as const, code: f.code, message: runtime.redactor.redact(f.message) })),
    ]
      .sort((a, b) => b.at.localeCompare(a.at))
      .slice(0, q.limit);
    if (q.format === 'csv') {
      const csv = toCsv(['at', 'entity', 'recordId', 'type', 'code', 'message'], items.map((i) => [i.at, i.entity, i.recordId, i.type, i.code, i.message]));
      return c.body(csv, 200, { 'Content-Type': 'text/csv; charset=utf-8', 'Content-Disposition': 'attachment; filename="sync-errors.csv"' });
    }
    return c.json({ items }, 200);
  });
}
