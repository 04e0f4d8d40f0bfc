import * as z from 'zod';
import { createRoute } from '@hono/zod-openapi';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Runtime } from '../../wiring/runtime.js';
import { requireEntity } from '../entity-guard.js';
import { errorSchema, jsonErrorResponses } from '../schemas.js';

const instant = z.iso.datetime({ offset: true }).meta({ example: '2026-12-05T08:00:00Z' });

export const replayRequestSchema = z
  .strictObject({
    ids: z.array(z.number().int().min(1)).min(1).max(1_000).optional().meta({ description: 'Quarantine entries by `seq`.' }),
    entity: z.string().min(1).optional(),
    reason: z.string().min(1).max(500).optional().meta({ description: 'Entries whose reason contains this text (case-insensitive).' }),
    since: instant.optional().meta({ description: 'Entries quarantined at or after this time.' }),
    until: instant.optional().meta({ description: 'Entries quarantined before this time.' }),
  })
  .refine((b) => Object.values(b).some((v) => v !== undefined), { message: 'name the entries to replay: ids, entity, reason, since or until' })
  .refine((b) => !b.since || !b.until || Date.parse(b.since) < Date.parse(b.until), { path: ['until'], message: 'must be after since' })
  .meta({ id: 'ReplayRequest' });

export const replayReportSchema = z
  .object({
    at: z.string(),
    matched: z.number().meta({ description: 'Open entries that matched; at most 1,000 are retried per replay (`more`: replay again for the rest).' }),
    applied: z.number(),
    failed: z.number(),
    skipped: z.number(),
    more: z.boolean(),
    entries: z.array(
      z.object({
        seq: z.number(),
        entity: z.string(),
        recordId: z.string().nullable(),
        direction: z.enum(['pull', 'push']),
        outcome: z.enum(['applied', 'failed', 'skipped']).meta({
          description: 'applied: the entry is resolved; failed: still open, `reason` is why now; skipped: not retried, `reason` says why.',
        }),
        reason: z.string().nullable(),
      }),
    ),
  })
  .meta({ id: 'ReplayReport' });

const replayRoute = createRoute({
  method: 'post',
  path: '/api/v1/quarantine/replay',
  summary: 'Retry open quarantine entries now (after the cycle in progress): by ids, entity, reason or time range',
  tags: ['logs'],
  request: { body: { required: true, content: { 'application/json': { schema: replayRequestSchema } } } },
  responses: {
    200: { description: 'What became of each entry', content: { 'application/json': { schema: replayReportSchema } } },
    ...jsonErrorResponses,
    404: { description: 'Unknown entity, or ids that name no open entry (nothing retried)', content: { 'application/json': { schema: errorSchema } } },
  },
});

export function registerReplayRoutes(app: OpenAPIHono, runtime: Runtime): void {
  app.openapi(replayRoute, async (c) => {
    const body = c.req.valid('json');
    const entity = body.entity === undefined ? undefined : requireEntity(runtime, body.entity);
    const filter = {
      ...(body.ids ? { seqs: body.ids } : {}),
      ...(entity ? { entity } : {}),
      ...(body.reason ? { reason: body.reason } : {}),
      ...(body.since ? { since: body.since } : {}),
      ...(body.until ? { until: body.until } : {}),
    };
    runtime.logger.info('replay of quarantine entries requested through the API', filter);
    const report = await runtime.engine.replay(filter);
    runtime.logger.info('replay finished', { matched: report.matched, applied: report.applied, failed: report.failed, skipped: report.skipped });
    return c.json(report, 200);
  });
}
