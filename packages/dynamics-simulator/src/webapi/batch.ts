import { randomUUID } from 'node:crypto';
import { errors, isODataError } from '../odata/errors.js';
import { parsePrefer } from '../odata/prefer.js';
import type { WebApiContext } from './context.js';
import { errorResponse, STATUS_TEXT } from './http.js';
import { API_PATH, routeWebApi } from './router.js';

export const MAX_BATCH_OPERATIONS = 1000;
const CRLF = '\r\n';

interface Operation {
  method: string;
  url: string;
  headers: Headers;
  body: string;
  contentId?: string;
}

type BatchItem = { kind: 'operation'; operation: Operation } | { kind: 'changeset'; operations: Operation[] };

function boundaryOf(contentType: string | null): string | undefined {
  if (!contentType || !/^multipart\/mixed/i.test(contentType)) return undefined;
  return /boundary="?([^";]+)"?/i.exec(contentType)?.[1];
}

function splitParts(body: string, boundary: string): string[] {
  const delimiter = `--${boundary}`;
  const chunks = body.split(delimiter);
  const parts: string[] = [];
  // chunks[0] is the preamble; the chunk after the closing delimiter starts with "--".
  for (const chunk of chunks.slice(1)) {
    if (chunk.startsWith('--')) break;
    parts.push(chunk.replace(/^\r\n/, '').replace(/\r\n$/, ''));
  }
  return parts;
}

function splitHeaders(text: string): [Headers, string] {
  const end = text.indexOf(CRLF + CRLF);
  const head = end < 0 ? text : text.slice(0, end);
  const rest = end < 0 ? '' : text.slice(end + 4);
  const headers = new Headers();
  for (const line of head.split(CRLF)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  return [headers, rest];
}

function parseOperation(part: string): Operation {
  const [partHeaders, http] = splitHeaders(part);
  const lineEnd = http.indexOf(CRLF);
  const requestLine = lineEnd < 0 ? http : http.slice(0, lineEnd);
  const match = /^([A-Z]+) (.+?)(?: HTTP\/1\.1)?$/.exec(requestLine.trim());
  if (!match) throw errors.badRequest(`The request line '${requestLine}' in the batch is not valid.`);
  const [headers, body] = splitHeaders(lineEnd < 0 ? '' : http.slice(lineEnd + 2));
  const contentId = partHeaders.get('Content-ID') ?? headers.get('Content-ID') ?? undefined;
  return { method: match[1]!, url: match[2]!, headers, body: body.replace(/\r\n$/, ''), ...(contentId ? { contentId } : {}) };
}

function parseBatch(body: string, boundary: string): BatchItem[] {
  const items: BatchItem[] = [];
  for (const part of splitParts(body, boundary)) {
    const [headers, content] = splitHeaders(part);
    const changesetBoundary = boundaryOf(headers.get('Content-Type'));
    if (changesetBoundary) {
      const operations = splitParts(content, changesetBoundary).map(parseOperation);
      for (const operation of operations) {
        if (operation.method === 'GET') throw errors.badRequest('GET requests are not allowed inside a change set.');
      }
      items.push({ kind: 'changeset', operations });
    } else {
      items.push({ kind: 'operation', operation: parseOperation(part) });
    }
  }
  return items;
}

const HEADER_NAMES: Record<string, string> = {
  'odata-version': 'OData-Version',
  'odata-entityid': 'OData-EntityId',
  etag: 'ETag',
};

function canonicalHeader(name: string): string {
  return HEADER_NAMES[name] ?? name.replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase());
}

interface OperationResult {
  response: Response;
  contentId?: string;
}

async function serializeResponse(result: OperationResult): Promise<string> {
  const { response } = result;
  const lines = ['Content-Type: application/http', 'Content-Transfer-Encoding: binary'];
  if (result.contentId !== undefined) lines.push(`Content-ID: ${result.contentId}`);
  lines.push('', `HTTP/1.1 ${response.status} ${STATUS_TEXT[response.status] ?? ''}`.trimEnd());
  const entityId = response.headers.get('OData-EntityId');
  response.headers.forEach((value, name) => {
    lines.push(`${canonicalHeader(name)}: ${value}`);
  });
  if (entityId && response.status === 204) lines.push(`Location: ${entityId}`);
  const text = await response.text();
  lines.push('', text);
  return lines.join(CRLF);
}

/** POST $batch: multipart/mixed with CRLF line ends, change sets atomic, continue-on-error on request. */
export async function executeBatch(context: WebApiContext): Promise<Response> {
  if (context.method !== 'POST') throw errors.methodNotAllowed(context.method);
  const boundary = boundaryOf(context.headers.get('Content-Type'));
  if (!boundary) throw errors.badRequest('The batch request must have a multipart/mixed Content-Type with a boundary.');
  // Bare LF line ends make the real service fail to read the stream.
  if (/(^|[^\r])\n/.test(context.body)) throw errors.payload('', 'System.ArgumentException: Stream was not readable.');
  const items = parseBatch(context.body, boundary);
  const count = items.reduce((total, item) => total + (item.kind === 'operation' ? 1 : item.operations.length), 0);
  if (count > MAX_BATCH_OPERATIONS) throw errors.badRequest(`The number of operations in the batch (${count}) exceeds the maximum of ${MAX_BATCH_OPERATIONS}.`);
  const continueOnError = context.preferences.continueOnError && !context.org.quirks.ignoreContinueOnError;
  context.usage.operations = Math.max(1, count);

  const run = (operation: Operation, contentIds: Map<string, string>): Response => {
    let target = operation.url;
    const reference = /^\$(\d+)(.*)$/.exec(target);
    if (reference) {
      const entity = contentIds.get(reference[1]!);
      if (!entity) return errorResponse(errors.badRequest(`Content-ID Reference: '$${reference[1]}' does not exist in the batch context.`));
      target = entity + reference[2]!;
    }
    const url = new URL(target, context.serviceRoot);
    if (!url.pathname.startsWith(API_PATH)) return errorResponse(errors.segmentNotFound(url.pathname));
    const { bulk: _bulk, ...outer } = context;
    const inner: WebApiContext = {
      ...outer,
      method: operation.method,
      url,
      headers: operation.headers,
      body: operation.body,
      preferences: parsePrefer(operation.headers.get('Prefer')),
      contentIds,
    };
    try {
      const response = routeWebApi(inner, url.pathname.slice(API_PATH.length));
      // Only bulk messages answer asynchronously, and they are refused before they start inside a batch.
      if (response instanceof Promise) throw new Error('an asynchronous operation inside $batch');
      return response;
    } catch (error) {
      if (isODataError(error)) return errorResponse(error);
      throw error;
    }
  };

  const parts: string[] = [];
  const batchBoundary = `batchresponse_${randomUUID()}`;
  let failed: string | undefined;
  for (const item of items) {
    if (item.kind === 'operation') {
      const response = run(item.operation, new Map());
      const part = await serializeResponse({ response, ...(item.operation.contentId ? { contentId: item.operation.contentId } : {}) });
      if (response.status >= 400 && !continueOnError) {
        failed = part;
        break;
      }
      parts.push(part);
      continue;
    }
    const contentIds = new Map<string, string>();
    const results: OperationResult[] = [];
    let failure: OperationResult | undefined;
    try {
      context.org.atomically(() => {
        for (const operation of item.operations) {
          const response = run(operation, contentIds);
          const result = { response, ...(operation.contentId ? { contentId: operation.contentId } : {}) };
          if (response.status >= 400) {
            failure = result;
            throw errors.unexpected();
          }
          const entityId = response.headers.get('OData-EntityId');
          if (operation.contentId && entityId) contentIds.set(operation.contentId, entityId);
          results.push(result);
        }
      });
    } catch (error) {
      if (!failure) throw error;
    }
    if (failure) {
      // The change set was rolled back; only the failing operation is reported.
      const part = await serializeResponse(failure);
      if (!continueOnError) {
        failed = part;
        break;
      }
      parts.push(part);
      continue;
    }
    const changesetBoundary = `changesetresponse_${randomUUID()}`;
    const inner = await Promise.all(results.map(serializeResponse));
    parts.push(
      [`Content-Type: multipart/mixed; boundary=${changesetBoundary}`, '', ...inner.map((part) => `--${changesetBoundary}${CRLF}${part}`), `--${changesetBoundary}--`].join(CRLF),
    );
  }
  const bodyParts = failed === undefined ? parts : [failed];
  const body = `${bodyParts.map((part) => `--${batchBoundary}${CRLF}${part}${CRLF}`).join('')}--${batchBoundary}--${CRLF}`;
  return new Response(body, {
    status: failed === undefined ? 200 : 400,
    headers: { 'Content-Type': `multipart/mixed; boundary=${batchBoundary}`, 'OData-Version': '4.0' },
  });
}
