import { parseArgs } from 'node:util';
import { commonOptions, prepare } from '../cli/prepare.js';
import { EXIT, cliExit } from '../cli/io.js';
import type { CliIo } from '../cli/io.js';
import { onStopSignal } from '../cli/signals.js';
import type { Override } from '../config/env.js';
import { createApiApp } from '../http/app.js';
import { isLoopback } from '../http/auth.js';
import { serveHttp } from '../http/serve.js';
import type { HttpServer } from '../http/serve.js';
import { createRuntime } from '../wiring/runtime.js';
import { describeStore } from '../wiring/store.js';
import { pluginLog } from '../wiring/crm.js';
import { pluginContext } from '../config/load.js';
import { startTracing, tracingWanted } from '../tracing.js';
import { runnerVersion } from '../version.js';

/**
 * `crm-sync start`: the scheduler (a cycle, the interval, a cycle...), the HTTP API and the
 * dashboard, until SIGINT or SIGTERM; then the page in hand is finished and committed, and the
 * process exits 0. Without a config it is the demo: a seeded simulated org in this process.
 */
export async function startCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args, options: { ...commonOptions, port: { type: 'string' }, host: { type: 'string' }, otel: { type: 'boolean' } }, strict: true });
  const flags: Override[] = [];
  if (values.port !== undefined) flags.push({ path: ['server', 'port'], value: values.port, from: '--port' });
  if (values.host !== undefined) flags.push({ path: ['server', 'host'], value: values.host, from: '--host' });
  const prepared = await prepare(io, { ...values, flags });
  const { loaded, logger } = prepared;
  const { config } = loaded;
  if (!isLoopback(config.server.host) && !loaded.secrets.apiToken) {
    throw cliExit(
      EXIT.usage,
      `crm-sync: refusing to listen on ${config.server.host} without an API token: set ${config.server.apiTokenEnv} (at least 16 characters), or bind 127.0.0.1`,
    );
  }

  // Before the runtime: the adapter and the engine find the SDK through @opentelemetry/api.
  const tracing = tracingWanted(values.otel, io.env) ? startTracing(io.env, runnerVersion()) : null;
  const runtime = await createRuntime(prepared);
  let server: HttpServer;
  try {
    // The demo takes the next free port when 8787 is busy; a port someone chose is kept or fails.
    const chosen = values.port !== undefined || io.env.CRM_SYNC_PORT !== undefined || !loaded.demo;
    server = await serveHttp(createApiApp(runtime).fetch, { host: config.server.host, port: config.server.port, tryNextPorts: chosen ? 0 : 20 });
  } catch (error) {
    await runtime.close();
    await tracing?.shutdown();
    throw cliExit(EXIT.failed, `crm-sync: cannot listen on ${config.server.host}:${config.server.port}: ${(error as Error).message}`);
  }

  io.stdout.write(
    [
      `crm-sync ${loaded.demo ? 'demo ' : ''}is running`,
      `  Dashboard: ${server.url}/`,
      `  API:       ${server.url}/api/v1 (OpenAPI: ${server.url}/openapi.json)`,
      `  Metrics:   ${server.url}/metrics`,
      `  CRM:       ${config.crm.kind} at ${runtime.crm.url}`,
      `  Store:     ${describeStore(loaded)}`,
      `  Interval:  ${Math.round(config.sync.intervalMs / 1000)} s`,
      ...(tracing ? [`  Traces:    OTLP to ${tracing.endpoint}`] : []),
      'Press Ctrl+C to stop.',
      '',
    ].join('\n'),
  );
  logger.info('runner started', { url: server.url, crm: config.crm.kind, store: config.store.kind, intervalMs: config.sync.intervalMs, demo: loaded.demo });

  runtime.state.scheduled = true;
  runtime.engine.start();
  // What the CRM plugin runs beside the scheduler (the simulator's sales staff in the demo).
  const beside = runtime.crm.startBeside?.(runtime.engine, pluginContext(loaded, pluginLog(logger, loaded.plugins.crm.name))) ?? null;

  // A second signal while stopping ends the process at once (onStopSignal).
  let release = () => {};
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    release = onStopSignal(resolve);
  });
  logger.info('stopping: finishing the page in hand', { signal });
  await beside?.stop();
  await runtime.engine.stop();
  runtime.state.scheduled = false;
  await server.close();
  await runtime.close();
  // The spans of the last cycle are sent before the process ends.
  await tracing?.shutdown().catch((error: unknown) => logger.warn('traces: the last spans could not be sent', { error: (error as Error).message }));
  logger.info('stopped');
  release();
  return EXIT.ok;
}
