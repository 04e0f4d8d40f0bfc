/**
 * OpenTelemetry traces of the runner: the engine and the CRM adapter make spans through
 * `@opentelemetry/api` (no-ops by default); this turns them into OTLP/HTTP exports when the operator
 * asks: `--otel`, or the standard `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
 * variables (the exporter reads the rest of the standard variables itself: headers, timeout, ...).
 * `OTEL_SDK_DISABLED=true` turns it off whatever else is set.
 */
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

export interface Tracing {
  /** Where spans go (the traces endpoint), for the start banner. */
  readonly endpoint: string;
  /** Sends the spans still buffered and stops; called once at exit. */
  shutdown(): Promise<void>;
}

/** Whether traces are on: the flag, or an OTLP endpoint in the environment (unless the SDK is disabled). */
export function tracingWanted(flag: boolean | undefined, env: NodeJS.ProcessEnv): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  return flag === true || Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
}

/** The traces endpoint the exporter will use, by the standard variables' precedence. */
export function tracesEndpoint(env: NodeJS.ProcessEnv): string {
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (traces) return traces;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || 'http://localhost:4318';
  return `${base.replace(/\/+$/, '')}/v1/traces`;
}

/** Registers the SDK for this process: spans batched and exported over OTLP/HTTP (JSON). */
export function startTracing(env: NodeJS.ProcessEnv, version: string): Tracing {
  const endpoint = tracesEndpoint(env);
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME?.trim() || 'crm-sync', 'service.version': version }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: endpoint }))],
  });
  provider.register();
  return { endpoint, shutdown: () => provider.shutdown() };
}
