import * as z from 'zod';
import { createRoute } from '@hono/zod-openapi';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { budgetRefusal } from '@crm-sync/core';
import type { Runtime } from '../../wiring/runtime.js';
import { requireEntity } from '../entity-guard.js';
import { cycleSummarySchema, dryRunReportSchema, errorSchema, jsonErrorResponses } from '../schemas.js';

const historyRoute = createRoute({
  method: 'get',
  path: '/api/v1/cycles',
  summary: 'Finished cycles of this process, oldest first (the last 200)',
  tags: ['cycles'],
  responses: {
    200: { description: 'Cycle history', content: { 'application/json': { schema: z.object({ items: z.array(cycleSummarySchema) }) } } },
    401: jsonErrorResponses[401],
  },
});

const triggerRoute = createRoute({
  method: 'post',
  path: '/api/v1/cycles',
  summary: 'Start a cycle now (after the one in progress, if any)',
  tags: ['cycles'],
  request: {
    body: {
      required: false,
      content: {
        'application/json': {
          schema: z
            .strictObject({
              entities: z.array(z.string().min(1)).min(1).optional().meta({ description: 'Only these entities (default: all).' }),
              wait: z.boolean().default(true).meta({ description: 'true: answer with the summary when the cycle ends; false: 202 at once.' }),
              dryRun: z.boolean().default(false).meta({
                description: "true: run the cycle's reads and rules, write nothing on either side, and answer with the plan (DryRunReport).",
              }),
            })
            .refine((b) => !(b.dryRun && b.wait === false), { path: ['wait'], message: 'a dry run answers with its plan: wait cannot be false' })
            .meta({ id: 'CycleRequest' }),
        },
      },
    },
  },
  responses: {
    200: {
      description: 'The finished cycle, or with dryRun the plan of one',
      content: { 'application/json': { schema: z.union([cycleSummarySchema, dryRunReportSchema]) } },
    },
    202: { description: 'Accepted; the cycle runs in the background', content: { 'application/json': { schema: z.object({ accepted: z.literal(true) }) } } },
    ...jsonErrorResponses,
    404: { description: 'Unknown entity', content: { 'application/json': { schema: errorSchema } } },
    429: {
      description: 'REQUEST_BUDGET_SPENT: the daily request budget (crm.dailyRequestBudget) is spent; the message says until when',
      content: { 'application/json': { schema: errorSchema } },
    },
  },
});

export function registerCycleRoutes(app: OpenAPIHono, runtime: Runtime): void {
  app.openapi(historyRoute, (c) => c.json({ items: runtime.history.cycles() }, 200));
  app.openapi(triggerRoute, async (c) => {
    // No body is fine: every entity, wait for the summary.
    const body: { entities?: string[] | undefined; wait?: boolean | undefined; dryRun?: boolean | undefined } = c.req.valid('json') ?? {};
    const wait = body.wait ?? true;
    const entities = body.entities?.map((name) => requireEntity(runtime, name));
    if (body.dryRun) {
      runtime.logger.info('dry run requested through the API', { entities: entities ?? 'all' });
      return c.json(await runtime.engine.dryRun(entities ? { entities } : {}), 200);
    }
    runtime.logger.info('cycle requested through the API', { entities: entities ?? 'all' });
    // Refused at once while the daily request budget is spent, even without waiting (429, saying until when).
    const refusal = budgetRefusal(await runtime.engine.requests.usage());
    if (refusal) throw refusal;
    const run = runtime.engine.trigger(entities ? { entities } : {});
    if (!wait) {
      run.catch((error: unknown) => runtime.logger.error('requested cycle failed', { error }));
      return c.json({ accepted: true as const }, 202);
    }
    return c.json(await run, 200);
  });
}
