/** The useful part of a Web API error body. */
export interface CrmErrorBody {
  /** Hex code such as `0x80060882`; often empty, and not tied to the HTTP status. */
  code: string;
  message: string;
}

const MAX_MESSAGE = 1_000;

/**
 * Reads `{"error":{"code":"","message":"..."}}`, tolerating an empty code, the legacy `innererror`,
 * extra annotations and bodies that are not JSON at all (401s, proxies). Never throws.
 */
export function parseErrorBody(text: string): CrmErrorBody | null {
  if (!text) return null;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof body !== 'object' || body === null) return null;
  const error = (body as { error?: unknown }).error;
  if (typeof error !== 'object' || error === null) return null;
  const record = error as Record<string, unknown>;
  const code = typeof record.code === 'string' ? record.code : '';
  let message = typeof record.message === 'string' ? record.message : '';
  if (!message) {
    const inner = record.innererror;
    if (typeof inner === 'object' && inner !== null && typeof (inner as { message?: unknown }).message === 'string') {
      message = (inner as { message: string }).message;
    }
  }
  if (!message && typeof record['@Microsoft.PowerApps.CDS.InnerError.Message'] === 'string') {
    message = record['@Microsoft.PowerApps.CDS.InnerError.Message'];
  }
  return { code, message: message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}...` : message };
}
