import type { ODataError } from '../odata/errors.js';

export const JSON_CONTENT_TYPE = 'application/json; odata.metadata=minimal';

/** The bodies of responses built by `textResponse`, for the standalone server to write as they are. */
const bodies = new WeakMap<Response, string | Uint8Array>();
const encoder = new TextEncoder();

/**
 * A response whose body is `body` (text or UTF-8 bytes). The body stream produces it only when someone
 * reads it (MSW, `response.text()`); the standalone server takes it from `responseBody` instead, so a
 * 2 MB page never goes through the Fetch body machinery.
 */
export function textResponse(status: number, body: string | Uint8Array, headers: Record<string, string>): Response {
  // highWaterMark 0: pull only runs when the body is read, not as soon as the stream exists.
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        controller.enqueue(typeof body === 'string' ? encoder.encode(body) : body);
        controller.close();
      },
    },
    { highWaterMark: 0 },
  );
  const response = new Response(stream, { status, headers });
  bodies.set(response, body);
  return response;
}

/** The body of a response made by `textResponse`, if it has not been read. */
export function responseBody(response: Response): string | Uint8Array | undefined {
  return response.bodyUsed ? undefined : bodies.get(response);
}

/** A JSON response from JSON text or its UTF-8 bytes. */
export function jsonTextResponse(status: number, body: string | Uint8Array, headers: Record<string, string> = {}): Response {
  return textResponse(status, body, { 'Content-Type': JSON_CONTENT_TYPE, 'OData-Version': '4.0', ...headers });
}

/**
 * UTF-8 bytes appended piece by piece into a growing buffer. A page is written row by row as the rows
 * are found, so no row object or row text outlives its row (a 5,000-row page made of row strings kept
 * until the end costs far more in garbage collection than the bytes themselves).
 */
export class Utf8Writer {
  private buffer: Buffer;
  private used = 0;

  constructor(capacity = 64 * 1024) {
    this.buffer = Buffer.allocUnsafe(capacity);
  }

  write(text: string): void {
    // A UTF-16 code unit takes at most 3 bytes in UTF-8.
    const needed = this.used + text.length * 3;
    if (needed > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(needed, this.buffer.length * 2));
      this.buffer.copy(grown, 0, 0, this.used);
      this.buffer = grown;
    }
    this.used += this.buffer.write(text, this.used);
  }

  bytes(): Buffer {
    return this.buffer.subarray(0, this.used);
  }
}

export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return jsonTextResponse(status, JSON.stringify(body), headers);
}

export function emptyResponse(status: number, headers: Record<string, string> = {}): Response {
  return new Response(null, { status, headers: { 'OData-Version': '4.0', ...headers } });
}

export function errorResponse(error: ODataError): Response {
  return jsonResponse(error.status, { error: { code: error.code, message: error.message } }, error.headers);
}

export const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  304: 'Not Modified',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  412: 'Precondition Failed',
  413: 'Payload Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
};
