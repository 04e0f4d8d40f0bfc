import * as z from 'zod';
import { createRoute } from '@hono/zod-openapi';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { statusReport } from '../../status-report.js';
import type { Runtime } from '../../wiring/runtime.js';
import { describeStore } from '../../wiring/store.js';
import { entityStatusSchema, errorSchema, jsonErrorResponses, statusSchema } from '../schemas.js';

export function statusOf(runtime: Runtime) {
  return statusReport({
    config: runtime.config,
    demo: runtime.loaded.demo,
    crm: { kind: runtime.config.crm.kind, url: runtime.crm.url },
    storeDescription: describeStore(runtime.loaded),
    registry: runtime.engine.registry,
    entities: runtime.entities,
    store: runtime.store,
    history: runtime.history,
    state: runtime.state,
    engine: { usage: () => runtime.engine.requests.usage(), orgShare: runtime.engine.orgShare },
  });
}

const healthRoute = createRoute({
  method: 'get',
  path: '/healthz',
  summary: 'Liveness (no token needed)',
  tags: ['system'],
  security: [],
  responses: {
    200: { description: 'The runner is up', content: { 'application/json': { schema: z.object({ ok: z.boolean(), service: z.literal('crm-sync') }) } } },
  },
});

const metricsRoute = createRoute({
  method: 'get',
  path: '/metrics',
  summary: 'Prometheus metrics',
  tags: ['system'],
  responses: {
    200: { description: 'Prometheus text exposition', content: { 'text/plain': { schema: z.string() } } },
    401: jsonErrorResponses[401],
  },
});

const statusRoute = createRoute({
  method: 'get',
  path: '/api/v1/status',
  summary: 'What runs, the last cycle, and per-entity counts',
  tags: ['status'],
  responses: {
    200: { description: 'Status', content: { 'application/json': { schema: statusSchema } } },
    401: jsonErrorResponses[401],
  },
});

const entitiesRoute = createRoute({
  method: 'get',
  path: '/api/v1/entities',
  summary: 'The synced entities with their counts and last run',
  tags: ['status'],
  responses: {
    200: { description: 'Entities in cycle order', content: { 'application/json': { schema: z.object({ items: z.array(entityStatusSchema) }) } } },
    401: { description: 'Missing or wrong bearer token', content: { 'application/json': { schema: errorSchema } } },
  },
});

export function registerSystemRoutes(app: OpenAPIHono, runtime: Runtime): void {
  app.openapi(healthRoute, (c) => c.json({ ok: true, service: 'crm-sync' as const }, 200));
  app.openapi(metricsRoute, async (c) => {
    const text = await runtime.metrics.render();
    return c.text(text, 200, { 'Content-Type': runtime.metrics.contentType });
  });
  app.openapi(statusRoute, async (c) => c.json(await statusOf(runtime), 200));
  app.openapi(entitiesRoute, async (c) => c.json({ items: (await statusOf(runtime)).entities }, 200));
}
