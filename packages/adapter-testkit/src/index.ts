import { describe, it } from 'vitest';
import { abortTests } from './abort.js';
import { createKitContext } from './context.js';
import type { KitContext, KitTest } from './context.js';
import { guardTests } from './guards.js';
import { pullTests } from './pull.js';
import { readTests } from './read.js';
import { schemaTests } from './schema.js';
import type { AdapterFactory } from './types.js';
import { writeTests } from './write.js';

export type { AdapterFactory, AdapterSettings, AdapterUnderTest, CrmControl } from './types.js';
export type { Crm, KitContext, KitTest } from './context.js';
export { PAGE_SIZE } from './context.js';

const areas = {
  schema: schemaTests,
  pull: pullTests,
  read: readTests,
  write: writeTests,
  guards: guardTests,
  abort: abortTests,
};

/** The title of every conformance test; keys of the skip map. */
export type AdapterTestName = {
  [K in keyof typeof areas]: keyof ReturnType<(typeof areas)[K]>;
}[keyof typeof areas];

export interface AdapterConformanceOptions {
  /**
   * Tests to leave out, by title (or ALL), each with the reason, which the test report shows: say
   * where that coverage lives instead. A skipped test shows as skipped, never as passed.
   */
  skip?: Partial<Record<AdapterTestName | 'ALL', string>>;
  /** Adapter-specific tests, registered inside the same describe block. */
  additionalTests?: (ctx: KitContext) => void;
}

/**
 * Registers the CrmAdapter conformance suite with vitest. `factory` must return a fresh adapter and
 * the control of the CRM behind it for every test; tests share nothing and run in any order.
 */
export function adapterConformance(name: string, factory: AdapterFactory, options: AdapterConformanceOptions = {}): void {
  const ctx = createKitContext(factory);
  describe(`CrmAdapter conformance: ${name}`, () => {
    for (const [area, build] of Object.entries(areas)) {
      describe(area, () => {
        for (const [title, run] of Object.entries(build(ctx) as Record<string, KitTest>)) {
          const reason = options.skip?.[title as AdapterTestName] ?? options.skip?.ALL;
          it(title, reason === undefined ? run : (t) => t.skip(reason), 60_000);
        }
      });
    }
    options.additionalTests?.(ctx);
  });
}
