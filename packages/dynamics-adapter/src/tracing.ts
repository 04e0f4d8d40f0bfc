/**
 * One OpenTelemetry client span per Web API request (its retries included), through
 * `@opentelemetry/api`: a no-op unless the application registers an SDK. The span says what a
 * person following a slow cycle needs (method, entity set, final status, retries, time waited for
 * throttling) and never the query string, a record id, a value or a token.
 */
import type { Span } from '@opentelemetry/api';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';

/** What the request loop tells its span. */
export interface RequestTrace {
  /** An attempt got this status (0: no response). */
  attempt(status: number): void;
  /** A 429 made the request wait this long before its next attempt. */
  throttled(waitMs: number): void;
}

/**
 * The entity set (or action, or `$batch`) a path addresses: its first segment after the API path,
 * without the key in parentheses (`/api/data/v9.2/contacts(<id>)` -> `contacts`).
 */
export function entitySetOf(path: string, apiPath: string): string {
  const rest = path.startsWith(apiPath + '/') ? path.slice(apiPath.length + 1) : path.replace(/^\/+/, '');
  const segment = rest.split('/')[0] ?? '';
  const open = segment.indexOf('(');
  return (open === -1 ? segment : segment.slice(0, open)) || '(root)';
}

export async function traceRequest<T>(method: string, entitySet: string, host: string, fn: (trace: RequestTrace) => Promise<T>): Promise<T> {
  const tracer = trace.getTracer('@crm-sync/dynamics-adapter');
  return tracer.startActiveSpan(
    `${method} ${entitySet}`,
    { kind: SpanKind.CLIENT, attributes: { 'http.request.method': method, 'server.address': host, 'crm_sync.entity_set': entitySet } },
    async (span: Span) => {
      let attempts = 0;
      let status = 0;
      let throttledMs = 0;
      try {
        return await fn({
          attempt(s) {
            attempts += 1;
            status = s;
          },
          throttled(waitMs) {
            throttledMs += waitMs;
          },
        });
      } catch (error) {
        const code = typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : 'ERROR';
        span.setStatus({ code: SpanStatusCode.ERROR, message: code });
        span.setAttribute('error.type', code);
        throw error;
      } finally {
        if (status !== 0) span.setAttribute('http.response.status_code', status);
        if (attempts > 1) span.setAttribute('http.request.resend_count', attempts - 1);
        if (throttledMs > 0) span.setAttribute('crm_sync.throttle_wait_ms', Math.round(throttledMs));
        span.end();
      }
    },
  );
}
