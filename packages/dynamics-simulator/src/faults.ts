import { createRandom, hash32 } from './random.js';
import type { Random } from './random.js';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const FAULT_KINDS = ['429', '500', '503', 'drop', 'slow', 'malformed-json', 'wrong-type', 'keyless'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultRule {
  kind: FaultKind;
  /** Probability per matching request, 0..1. */
  rate: number;
  /** Only requests whose path and query contain this text. */
  path?: string;
  /** Only this HTTP method. */
  method?: string;
  /** Stop after this many injections. */
  limit?: number;
  /** slow: real milliseconds to wait before answering (default 2000). */
  delayMs?: number;
  /** 429: Retry-After seconds (default 1). */
  retryAfterSeconds?: number;
}

export interface FaultSettings {
  /** Same seed + same request sequence = same faults. Default 1. */
  seed?: number;
  rules: FaultRule[];
}

export interface FaultInjector {
  settings(): FaultSettings;
  set(settings: FaultSettings | null): void;
  /** The fault for this request, if any (advances the seeded sequence). */
  decide(method: string, pathAndQuery: string): FaultRule | undefined;
  /** Breaks a good JSON body the way the rule says. */
  corrupt(rule: FaultRule, body: string): string;
}

export function createFaultInjector(initial: FaultSettings | null = null): FaultInjector {
  let settings: FaultSettings = initial ?? { rules: [] };
  let random: Random = createRandom(hash32('faults', settings.seed ?? 1));
  let used: number[] = settings.rules.map(() => 0);

  const set = (next: FaultSettings | null): void => {
    settings = next ?? { rules: [] };
    random = createRandom(hash32('faults', settings.seed ?? 1));
    used = settings.rules.map(() => 0);
  };

  return {
    settings: () => settings,
    set,
    decide: (method, pathAndQuery) => {
      for (let i = 0; i < settings.rules.length; i++) {
        const rule = settings.rules[i]!;
        if (rule.method !== undefined && rule.method.toUpperCase() !== method.toUpperCase()) continue;
        if (rule.path !== undefined && !pathAndQuery.includes(rule.path)) continue;
        if (rule.limit !== undefined && used[i]! >= rule.limit) continue;
        if (random.next() < rule.rate) {
          used[i] = used[i]! + 1;
          return rule;
        }
      }
      return undefined;
    },
    corrupt: (rule, body) => {
      if (rule.kind === 'malformed-json') return body.slice(0, Math.max(1, Math.floor(body.length / 2)));
      let parsed: unknown;
      try {
        parsed = JSON.parse(body);
      } catch {
        return body;
      }
      const rows = (parsed as { value?: unknown }).value;
      if (!Array.isArray(rows) || rows.length === 0) return body;
      const row = rows[random.int(rows.length)] as Record<string, unknown>;
      if (rule.kind === 'keyless') {
        // The `id` of a deleted row, or the primary key (`<entity>id`, the only unprefixed GUID column ending in id).
        const key = 'reason' in row ? 'id' : Object.keys(row).find((k) => /^[a-z0-9]+id$/.test(k) && typeof row[k] === 'string' && GUID.test(row[k]));
        if (key === undefined) return body;
        delete row[key];
        return JSON.stringify(parsed);
      }
      // wrong-type: one value of one row gets a value of another type.
      const keys = Object.keys(row).filter((key) => !key.includes('@') && row[key] !== null);
      const typed = keys.filter((key) => typeof row[key] === 'number' || typeof row[key] === 'boolean');
      const key = typed.length ? typed[random.int(typed.length)] : keys[random.int(keys.length)];
      if (key === undefined) return body;
      row[key] = typeof row[key] === 'string' ? 12345 : 'not-a-number';
      return JSON.stringify(parsed);
    },
  };
}
