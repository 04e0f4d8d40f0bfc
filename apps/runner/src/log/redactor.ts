/**
 * Redaction by value: every secret the runner knows is replaced by `[redacted]` in every log line
 * and every error message it prints, whatever path the value took to get there.
 */
export interface Redactor {
  /** Remembers values that must never be shown (short ones are ignored: they would mask ordinary text). */
  add(...secrets: readonly (string | undefined)[]): void;
  redact(text: string): string;
}

export const REDACTED = '[redacted]';
const MIN_LENGTH = 4;

export function createRedactor(initial: readonly string[] = []): Redactor {
  const secrets = new Set<string>();
  const add = (...values: readonly (string | undefined)[]) => {
    for (const value of values) {
      if (typeof value !== 'string' || value.length < MIN_LENGTH) continue;
      secrets.add(value);
      // The same value inside a JSON string or a URL looks different.
      secrets.add(JSON.stringify(value).slice(1, -1));
      secrets.add(encodeURIComponent(value));
    }
  };
  add(...initial);
  return {
    add,
    redact(text) {
      let out = text;
      // Longest first, so a secret that contains another is hidden whole.
      for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
        if (out.includes(secret)) out = out.split(secret).join(REDACTED);
      }
      return out.replace(/(Bearer\s+)(?!\[redacted\])[A-Za-z0-9._~+/=-]{8,}/gi, `$1${REDACTED}`);
    },
  };
}
