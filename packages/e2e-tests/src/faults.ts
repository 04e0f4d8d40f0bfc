import type { FaultSettings } from '@crm-sync/dynamics-simulator';

/**
 * Every fault kind the simulator can inject, `rate` of the requests in all (split across kinds):
 * throttling, server errors, dropped connections, slow answers, malformed bodies, rows of the wrong
 * type, rows without their key. Same seed, same request sequence: same faults.
 */
export function faultMix(seed: number, rate = 0.1): FaultSettings {
  const share = (part: number) => rate * part;
  return {
    seed,
    rules: [
      { kind: '429', rate: share(0.2), retryAfterSeconds: 1 },
      { kind: '500', rate: share(0.15) },
      { kind: '503', rate: share(0.15) },
      { kind: 'drop', rate: share(0.15) },
      { kind: 'slow', rate: share(0.1), delayMs: 200 },
      { kind: 'malformed-json', rate: share(0.15) },
      { kind: 'wrong-type', rate: share(0.05) },
      { kind: 'keyless', rate: share(0.05) },
    ],
  };
}
