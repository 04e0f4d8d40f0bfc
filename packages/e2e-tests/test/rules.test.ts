import { testDatabaseUrl } from '@crm-sync/postgres-tooling';
import { describe, it } from 'vitest';
import { scenarios } from '../src/scenarios.js';
import { allHarnesses } from '../src/simulator-harness.js';

const harnesses = allHarnesses(testDatabaseUrl());

// The scenarios live in src/scenarios.ts, so that test/mutation.test.ts runs them too (with a rule swapped for a wrong one).
describe.each(harnesses)('rules end to end: $name', (harness) => {
  for (const s of scenarios) it(s.name, () => s.run(harness), s.timeoutMs);
});
