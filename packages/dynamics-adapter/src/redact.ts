/**
 * Keeps secrets (client secret, bearer tokens) out of anything the adapter throws or reports.
 * Every string that reaches an error message, a `cause` or an event passes through `redact`.
 */
export interface Redactor {
  /** Remembers a value that must never be shown. */
  add(secret: string): void;
  redact(text: string): string;
  /** A copy of an error (and its cause chain) with secrets removed; keeps only name, message and code. */
  error(error: unknown): Error;
}

const MIN_SECRET_LENGTH = 6;

export function createRedactor(): Redactor {
  const secrets = new Set<string>();
  const redact = (text: string): string => {
    let out = text;
    for (const secret of secrets) {
      if (out.includes(secret)) out = out.split(secret).join('[redacted]');
    }
    // Bearer tokens we never saw (e.g. echoed by a proxy) are still hidden.
    return out.replace(/Bearer\s+[A-Za-z0-9._~+/=-]+/gi, 'Bearer [redacted]');
  };
  const copy = (error: unknown, depth: number): Error => {
    if (!(error instanceof Error)) return new Error(redact(String(error)));
    const clean = new Error(redact(error.message), depth < 3 && error.cause !== undefined ? { cause: copy(error.cause, depth + 1) } : undefined);
    clean.name = error.name;
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' || typeof code === 'number') Object.assign(clean, { code });
    const errorCode = (error as { errorCode?: unknown }).errorCode;
    if (typeof errorCode === 'string') Object.assign(clean, { errorCode });
    return clean;
  };
  return {
    add(secret) {
      if (secret.length >= MIN_SECRET_LENGTH) secrets.add(secret);
    },
    redact,
    error: (error) => copy(error, 0),
  };
}
