/**
 * OpenTelemetry spans of the engine: a cycle, each entity's run in it, each page, each push and each
 * store commit. Through `@opentelemetry/api` only: without an SDK registered by the application (the
 * runner's `--otel`) every call is a no-op. Attributes name entities and count things; they never
 * carry a field value, a record id, a query or a credential.
 */
import type { Attributes, Span } from '@opentelemetry/api';
import { context, SpanStatusCode, trace } from '@opentelemetry/api';

/** The tracer of the engine; resolved at each call, so an SDK registered after import is used. */
const tracer = () => trace.getTracer('@crm-sync/core');

/** Span names (low cardinality: the entity is an attribute). */
export const spanNames = {
  cycle: 'crm-sync.cycle',
  entity: 'crm-sync.entity',
  page: 'crm-sync.page',
  push: 'crm-sync.push',
  commit: 'crm-sync.store.commit',
} as const;

/** Marks a span failed with the error's code and message (messages are redacted where they are made). */
export function recordFailure(span: Span, error: unknown): void {
  const code = typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : undefined;
  const message = error instanceof Error ? error.message : String(error);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
  if (code !== undefined) span.setAttribute('crm_sync.error_code', code);
  if (error instanceof Error) span.recordException(error);
}

/** Runs `fn` in a new span (child of the active one, or of `parent`), ending it when `fn` settles. */
export async function inSpan<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T>, parent?: Span): Promise<T> {
  const base = parent ? trace.setSpan(context.active(), parent) : context.active();
  const span = tracer().startSpan(name, { attributes }, base);
  try {
    return await context.with(trace.setSpan(base, span), () => fn(span));
  } catch (error) {
    recordFailure(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/** A span that outlives one call (an entity's run spans several turns): started now, ended by the caller. */
export function startSpan(name: string, attributes: Attributes): Span {
  return tracer().startSpan(name, { attributes });
}

/** Runs `fn` with `span` active, so the spans it starts (pages, CRM requests, commits) are its children. */
export function withSpan<T>(span: Span, fn: () => Promise<T>): Promise<T> {
  return context.with(trace.setSpan(context.active(), span), fn);
}
