import { isSyncError } from '@crm-sync/core';
import { testDatabaseUrl } from '@crm-sync/postgres-tooling';
import { afterEach, describe, expect, it } from 'vitest';
import { allHarnesses } from '../src/simulator-harness.js';
import type { World } from '../src/world.js';
import { createWorld, newId } from '../src/world.js';

const harnesses = allHarnesses(testDatabaseUrl());

describe.each(harnesses)('local edits: $name', (harness) => {
  let world: World;
  afterEach(async () => world?.close());
  const setup = async () => (world = await createWorld(harness));

  it('R12: an edit of CRM fields of a person deleted in the CRM is refused, naming the record, and writes nothing', async () => {
    const w = await setup();
    const con = newId();
    await w.crm.put('contact', con, { firstname: 'Gone', lastname: 'Away' });
    await w.cycle();
    await w.crm.remove('contact', con);
    await w.cycle();
    const before = await w.local('contact', con);
    expect(before?.crmDeleted).toBe(true);
    const refused = await w.engine.editLocal('contact', con, { fields: { jobtitle: 'Never pushed' } }).catch((e: unknown) => e);
    expect(isSyncError(refused, 'RECORD_CRM_DELETED')).toBe(true);
    expect((refused as Error).message).toContain(con);
    const after = await w.local('contact', con);
    expect(after?.revision).toBe(before?.revision);
    expect(after?.fields.jobtitle ?? null).toBeNull();
    expect(after?.pending).toEqual([]);
    // A local-only field is still the marketing side's own (R8): it was never going to be pushed.
    const local = await w.engine.editLocal('contact', con, { fields: { x_score: 7 } });
    expect(local.fields.x_score).toBe(7);
  });
});
