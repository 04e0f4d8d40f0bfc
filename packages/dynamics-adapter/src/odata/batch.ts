import { randomUUID } from 'node:crypto';
import { SyncError } from '@crm-sync/core';

/** One operation inside a `$batch`. */
export interface BatchOperation {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Absolute URL of the operation. */
  url: string;
  headers?: Record<string, string>;
  body?: string;
  /** Echoed on the operation's answer: tells which one failed in an answer that holds only that part. */
  contentId?: string;
}

/** One embedded response, in request order. */
export interface BatchPartResponse {
  status: number;
  /** Lower-case header names. */
  headers: Record<string, string>;
  body: string;
  /** The Content-ID of the operation it answers, when the service echoed it. */
  contentId: string | null;
}

const CRLF = '\r\n';

export interface EncodedBatch {
  contentType: string;
  body: string;
}

/**
 * A `multipart/mixed` batch with CRLF line endings (Dataverse rejects LF-only bodies). Each
 * operation is its own top-level part, so it is its own transaction: with
 * `Prefer: odata.continue-on-error` one refused row does not roll back the others, which a
 * change set would do.
 */
export function encodeBatch(operations: readonly BatchOperation[], boundary = `batch_${randomUUID()}`): EncodedBatch {
  const lines: string[] = [];
  for (const op of operations) {
    lines.push(`--${boundary}`, 'Content-Type: application/http', 'Content-Transfer-Encoding: binary');
    if (op.contentId !== undefined) lines.push(`Content-ID: ${op.contentId}`);
    lines.push('');
    lines.push(`${op.method} ${op.url} HTTP/1.1`);
    const headers = { ...(op.body !== undefined ? { 'Content-Type': 'application/json; type=entry' } : {}), ...op.headers };
    for (const [key, value] of Object.entries(headers)) lines.push(`${key}: ${value}`);
    lines.push('', op.body ?? '');
  }
  lines.push(`--${boundary}--`, '');
  return { contentType: `multipart/mixed; boundary=${boundary}`, body: lines.join(CRLF) };
}

/** The boundary parameter of a multipart Content-Type, or null. */
export function boundaryOf(contentType: string | null): string | null {
  if (!contentType || !/^\s*multipart\/mixed/i.test(contentType)) return null;
  const match = /boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return match?.[1] ?? match?.[2] ?? null;
}

function splitHead(text: string): { head: string; body: string } {
  const match = /\r?\n\r?\n/.exec(text);
  if (!match) return { head: text, body: '' };
  return { head: text.slice(0, match.index), body: text.slice(match.index + match[0].length) };
}

function parseHeaders(lines: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}

function invalid(message: string): SyncError {
  return new SyncError('CRM_RESPONSE_INVALID', `[dynamics-adapter] $batch response ${message}`);
}

/** Splits a multipart body into its parts (without the boundary lines). */
function splitParts(body: string, boundary: string): string[] {
  const delimiter = `--${boundary}`;
  const segments = body.split(delimiter);
  if (segments.length < 2) throw invalid(`has no part with boundary ${boundary}`);
  const parts: string[] = [];
  // segments[0] is the preamble; a segment starting with "--" is the close delimiter's epilogue.
  for (const segment of segments.slice(1)) {
    if (segment.startsWith('--')) break;
    parts.push(segment.replace(/^[ \t]*\r?\n/, '').replace(/\r?\n$/, ''));
  }
  return parts;
}

/** Parses a batch response into embedded responses in order; change sets are flattened. */
export function parseBatchResponse(body: string, contentType: string | null): BatchPartResponse[] {
  const boundary = boundaryOf(contentType);
  if (!boundary) throw invalid(`has Content-Type ${JSON.stringify(contentType)}, not multipart/mixed with a boundary`);
  const responses: BatchPartResponse[] = [];
  for (const part of splitParts(body, boundary)) {
    const { head, body: partBody } = splitHead(part);
    const partHeaders = parseHeaders(head.split(/\r?\n/));
    const nested = boundaryOf(partHeaders['content-type'] ?? null);
    if (nested) {
      responses.push(...parseBatchResponse(partBody, partHeaders['content-type'] ?? null));
      continue;
    }
    const { head: httpHead, body: httpBody } = splitHead(partBody);
    const [statusLine = '', ...headerLines] = httpHead.split(/\r?\n/);
    const status = /^HTTP\/\d(?:\.\d)?\s+(\d{3})/.exec(statusLine.trim());
    if (!status?.[1]) throw invalid(`part has no HTTP status line: ${JSON.stringify(statusLine.slice(0, 80))}`);
    const headers = parseHeaders(headerLines);
    const contentId = partHeaders['content-id'] ?? headers['content-id'] ?? null;
    responses.push({ status: Number(status[1]), headers, body: httpBody.trim(), contentId });
  }
  return responses;
}
