import { OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import type { Runtime } from '../wiring/runtime.js';
import { runnerVersion } from '../version.js';
import { bearerAuth } from './auth.js';
import { apiError, fromThrown } from './errors.js';
import { registerCycleRoutes } from './routes/cycles.js';
import { registerDashboardRoutes } from './routes/dashboard.js';
import { registerFieldRoutes } from './routes/fields.js';
import { registerHistoryRoutes } from './routes/history.js';
import { registerLogRoutes } from './routes/logs.js';
import { registerRecordRoutes } from './routes/records.js';
import { registerReplayRoutes } from './routes/replay.js';
import { registerSystemRoutes } from './routes/system.js';

export type ApiApp = OpenAPIHono;

const TARGET_PREFIX: Record<string, string> = { json: 'body', query: 'query', param: 'path', header: 'header' };

/** The runner's HTTP app: JSON API under /api/v1, /openapi.json, /metrics, /healthz and the dashboard. */
export function createApiApp(runtime: Runtime): ApiApp {
  const { logger, redactor } = runtime;
  const app = new OpenAPIHono({
    // Invalid input: 400 naming each path, and the handler never runs (nothing changes).
    defaultHook: (result, c) => {
      if (result.success) return undefined;
      const prefix = TARGET_PREFIX[result.target] ?? result.target;
      const issues = result.error.issues.map((i) => {
        // A bad key in a field map: say what a key must be, not just that it is invalid.
        const inner = i.code === 'invalid_key' ? i.issues[0]?.message : undefined;
        return `${[prefix, ...i.path.map(String)].join('.')}: ${inner ?? i.message}`;
      });
      return c.json(apiError(400, 'REQUEST_INVALID', `Invalid request: ${issues.join('; ')}`, { issues }).body, 400);
    },
  });

  app.use('*', async (c, next) => {
    await next();
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('Referrer-Policy', 'no-referrer');
  });
  app.use('*', bearerAuth(runtime.loaded.secrets.apiToken));
  app.use(
    '*',
    bodyLimit({
      maxSize: runtime.config.server.maxBodyBytes,
      onError: (c) => c.json(apiError(413, 'BODY_TOO_LARGE', `Request bodies are limited to ${runtime.config.server.maxBodyBytes} bytes`).body, 413),
    }),
  );

  registerSystemRoutes(app, runtime);
  registerDashboardRoutes(app);
  registerRecordRoutes(app, runtime);
  registerLogRoutes(app, runtime);
  registerCycleRoutes(app, runtime);
  registerFieldRoutes(app, runtime);
  registerReplayRoutes(app, runtime);
  registerHistoryRoutes(app, runtime);

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'CRM_SYNC_API_TOKEN; required when the runner listens beyond 127.0.0.1, or whenever the token is set.',
  });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'crm-sync runner API',
      version: runnerVersion(),
      description: 'Records, local edits, persons to create in the CRM, collisions, sync errors, cycles and fields of a crm-sync runner.',
    },
    security: [{ bearerAuth: [] }],
  });

  app.notFound((c) => c.json(apiError(404, 'NOT_FOUND', `No route for ${c.req.method} ${c.req.path}; see /openapi.json`).body, 404));
  app.onError((error, c) => {
    if (error instanceof HTTPException) {
      const status = error.status;
      const code = status === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : status === 413 ? 'BODY_TOO_LARGE' : 'REQUEST_INVALID';
      return c.json(apiError(status, code, redactor.redact(error.message || 'Invalid request')).body, status);
    }
    const answer = fromThrown(error, redactor.redact);
    if (answer.status >= 500) logger.error('API request failed', { method: c.req.method, path: c.req.path, error });
    return c.json(answer.body, answer.status as 500);
  });
  return app;
}
