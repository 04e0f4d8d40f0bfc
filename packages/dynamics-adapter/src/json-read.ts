import { isSyncError } from '@crm-sync/core';
import type { HttpClient, HttpResponse } from './http.js';
import { parseObject } from './odata/parse.js';

/** Reads of a JSON body that comes broken (cut off in transit) are sent again this many times. */
const ATTEMPTS = 3;

/**
 * GET a JSON object. A 2xx whose body is not JSON is a transport fault (a body cut short), not an
 * answer: the read is idempotent, so it is sent again before CRM_RESPONSE_INVALID is reported.
 */
export async function getJsonObject(
  http: HttpClient,
  url: string,
  what: string,
  signal?: AbortSignal,
): Promise<{ body: Record<string, unknown>; response: HttpResponse }> {
  for (let attempt = 1; ; attempt += 1) {
    const response = await http.send({ method: 'GET', url, ...(signal ? { signal } : {}) });
    try {
      return { body: parseObject(response.text, what), response };
    } catch (error) {
      if (attempt >= ATTEMPTS || !isSyncError(error, 'CRM_RESPONSE_INVALID')) throw error;
    }
  }
}
