/** Parsed `Prefer` header(s) (RFC 7240; several headers arrive joined by commas). */
export interface Preferences {
  maxPageSize?: number;
  trackChanges: boolean;
  /** Annotation patterns asked for with odata.include-annotations ("*" = all). */
  annotations: string[];
  annotationsRaw?: string;
  returnRepresentation: boolean;
  continueOnError: boolean;
}

function splitOutsideQuotes(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    if (ch === separator && !quoted) {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts.map((part) => part.trim()).filter((part) => part !== '');
}

export function parsePrefer(header: string | null): Preferences {
  const preferences: Preferences = { trackChanges: false, annotations: [], returnRepresentation: false, continueOnError: false };
  if (!header) return preferences;
  for (const part of splitOutsideQuotes(header, ',')) {
    const [rawName = '', ...rest] = part.split('=');
    const name = rawName.trim().toLowerCase();
    const value = rest.join('=').trim().replace(/^"(.*)"$/, '$1');
    if (name === 'odata.maxpagesize') {
      const size = Number(value);
      if (Number.isInteger(size) && size > 0) preferences.maxPageSize = size;
    } else if (name === 'odata.track-changes') {
      preferences.trackChanges = true;
    } else if (name === 'odata.include-annotations') {
      preferences.annotationsRaw = value;
      preferences.annotations = value
        .split(',')
        .map((pattern) => pattern.trim())
        .filter((pattern) => pattern !== '' && !pattern.startsWith('-'));
    } else if (name === 'return' && value === 'representation') {
      preferences.returnRepresentation = true;
    } else if (name === 'odata.continue-on-error') {
      preferences.continueOnError = true;
    }
  }
  return preferences;
}

/** True when an annotation name is covered by the requested patterns. */
export function wantsAnnotation(preferences: Preferences, annotation: string): boolean {
  return preferences.annotations.some(
    (pattern) => pattern === '*' || pattern === annotation || (pattern.endsWith('.*') && annotation.startsWith(pattern.slice(0, -1))),
  );
}
