import { describe, it } from 'vitest';
import { createTestContext } from './context.js';
import { fanOutTests } from './fanout.js';
import { historyTests } from './history.js';
import { leaseTests } from './leases.js';
import { logTests } from './logs.js';
import { progressTests } from './progress.js';
import { recordTests } from './records.js';
import type { StoreFactory, TestContext } from './types.js';

export type { StoreBackdoor, StoreFactory, StoreUnderTest, TestContext } from './types.js';
export { prng } from './random.js';

const areas = {
  records: recordTests,
  progress: progressTests,
  fanOut: fanOutTests,
  logs: logTests,
  leases: leaseTests,
  history: historyTests,
};

/** The title of every conformance test; keys of the skip map. */
export type StoreTestName = {
  [K in keyof typeof areas]: keyof ReturnType<(typeof areas)[K]>;
}[keyof typeof areas];

export interface StoreConformanceOptions {
  /**
   * Tests to leave out, by title (or ALL). Each entry needs a comment saying where that coverage
   * lives instead; a skipped test shows as skipped, never as passed.
   */
  skip?: Partial<Record<StoreTestName | 'ALL', boolean>>;
  /** Store-specific tests, registered inside the same describe block. */
  additionalTests?: (ctx: TestContext) => void;
}

/**
 * Registers the SyncStore conformance suite with vitest. `factory` must return a fresh, empty store
 * (and optionally its backdoor) for every test; tests share nothing and run in any order.
 */
export function storeConformance(name: string, factory: StoreFactory, options: StoreConformanceOptions = {}): void {
  const ctx = createTestContext(factory);
  describe(`SyncStore conformance: ${name}`, () => {
    for (const [area, build] of Object.entries(areas)) {
      describe(area, () => {
        for (const [title, run] of Object.entries(build(ctx) as Record<string, () => Promise<void>>)) {
          const skipped = options.skip?.ALL === true || options.skip?.[title as StoreTestName] === true;
          (skipped ? it.skip : it)(title, run, 60_000);
        }
      });
    }
    options.additionalTests?.(ctx);
  });
}
