import type { FieldHistoryStep } from '@crm-sync/core';
import { createSyncEngine } from '@crm-sync/core';
import { createMemoryStore } from '@crm-sync/memory-store';
import { createMemoryCrm, field } from '@crm-sync-examples/memory-crm';
import { testDatabaseUrl } from '@crm-sync/postgres-tooling';
import { afterEach, describe, expect, it } from 'vitest';
import { allHarnesses } from '../src/simulator-harness.js';
import type { World } from '../src/world.js';
import { createWorld, newId } from '../src/world.js';

const harnesses = allHarnesses(testDatabaseUrl());

/** What a person reads of a step: the rule, the side and the value (and a collision's values). */
const told = (steps: FieldHistoryStep[]) =>
  steps.map((s) => ({ rule: s.rule, side: s.side, value: s.value, ...(s.collision ? { collision: s.collision } : {}) }));

function assertOldestFirst(steps: FieldHistoryStep[]): void {
  const times = steps.map((s) => s.at).filter((t): t is string => t !== null);
  expect(times.length).toBe(steps.length);
  expect([...times].sort()).toEqual(times);
}

describe.each(harnesses)('field history: $name', (harness) => {
  let world: World;
  afterEach(async () => world?.close());

  it('lists each step of a contact field (Quick Sync, pull, local edit, push, collision) and of its company field (fan-outs from both sides), oldest first, with its source', async () => {
    const w = (world = await createWorld(harness, { entities: { contact: { fields: ['firstname', 'lastname', 'parentcustomerid'] } } }));
    const [acc, con] = [newId(), newId()];
    const link = { parentcustomerid: { id: acc, entity: 'account' } };
    await w.crm.put('account', acc, { name: 'Acme' });
    await w.crm.put('contact', con, { firstname: 'Ada', lastname: 'Lovelace', jobtitle: 'Analyst' }, link);
    await w.cycle();
    // A first load writes no history: the value the record was created with is read from it.
    expect((await w.engine.fieldHistory('contact', con, 'firstname')).steps).toMatchObject([{ rule: 'create', side: 'crm', value: 'Ada', seq: null }]);

    expect((await w.engine.addField('contact', 'jobtitle')).backfilled).toBe(1); // Quick Sync
    await w.crm.put('contact', con, { jobtitle: 'Engineer' });
    await w.cycle(); // pull
    await w.engine.editLocal('contact', con, { fields: { jobtitle: 'Lead Engineer' } });
    await w.cycle(); // push
    expect((await w.crm.get('contact', con))?.jobtitle).toBe('Lead Engineer');
    await w.engine.editLocal('contact', con, { fields: { jobtitle: 'Local title' } });
    await w.crm.put('contact', con, { jobtitle: 'CRM title' });
    await w.cycle(); // collision: the CRM wins for contacts (R2)
    await w.crm.put('account', acc, { name: 'Acme Corp' });
    await w.cycle(); // account fan-out from the CRM (R4)
    await w.engine.editLocal('contact', con, { company: { name: 'Acme Local' } }); // fan-out of a local account edit

    const jobtitle = await w.engine.fieldHistory('contact', con, 'jobtitle');
    expect(jobtitle.current).toBe('CRM title');
    expect(told(jobtitle.steps)).toEqual([
      { rule: 'create', side: 'crm', value: null },
      { rule: 'quick-sync', side: 'crm', value: 'Analyst' },
      { rule: 'pull', side: 'crm', value: 'Engineer' },
      { rule: 'local-edit', side: 'local', value: 'Lead Engineer' },
      { rule: 'push', side: 'local', value: 'Lead Engineer' },
      { rule: 'local-edit', side: 'local', value: 'Local title' },
      { rule: 'collision', side: 'crm', value: 'CRM title', collision: { localValue: 'Local title', crmValue: 'CRM title', winner: 'crm' } },
    ]);
    assertOldestFirst(jobtitle.steps);

    const company = await w.engine.fieldHistory('contact', con, 'company.name');
    expect(company.current).toBe('Acme Local');
    expect(told(company.steps)).toEqual([
      { rule: 'create', side: 'crm', value: 'Acme' },
      { rule: 'fan-out', side: 'crm', value: 'Acme Corp' },
      { rule: 'fan-out', side: 'local', value: 'Acme Local' },
    ]);
    expect(company.steps.slice(1).map((s) => s.accountId)).toEqual([acc, acc]);
    assertOldestFirst(company.steps);
    // The account's own field: its pull and its local edit.
    expect(told((await w.engine.fieldHistory('account', acc, 'name')).steps)).toEqual([
      { rule: 'create', side: 'crm', value: 'Acme' },
      { rule: 'pull', side: 'crm', value: 'Acme Corp' },
      { rule: 'local-edit', side: 'local', value: 'Acme Local' },
    ]);

    // Paged: two steps a page, the same steps in the same order.
    const paged: FieldHistoryStep[] = [];
    let after: number | undefined;
    for (let pages = 0; pages < 10; pages += 1) {
      const page = await w.engine.fieldHistory('contact', con, 'jobtitle', { limit: 2, ...(after !== undefined ? { after } : {}) });
      paged.push(...page.steps);
      if (page.next === null) break;
      after = page.next;
    }
    expect(paged).toEqual(jobtitle.steps);
  });

  it('a contact moved to another account shows the move, then that account\'s fan-outs only', async () => {
    const w = (world = await createWorld(harness));
    const [a, b, con] = [newId(), newId(), newId()];
    await w.crm.put('account', a, { name: 'Alpha' });
    await w.crm.put('account', b, { name: 'Beta' });
    await w.crm.put('contact', con, { lastname: 'Mover' }, { parentcustomerid: { id: a, entity: 'account' } });
    await w.cycle();
    await w.crm.put('account', b, { name: 'Beta 2' }); // before the move: not this contact's history
    await w.cycle();
    await w.crm.put('contact', con, { lastname: 'Mover' }, { parentcustomerid: { id: b, entity: 'account' } });
    await w.cycle();
    await w.crm.put('account', a, { name: 'Alpha 2' }); // after the move: not this contact's either
    await w.crm.put('account', b, { name: 'Beta 3' });
    await w.cycle();
    const steps = (await w.engine.fieldHistory('contact', con, 'company.name')).steps;
    expect(told(steps)).toEqual([
      { rule: 'create', side: 'crm', value: 'Alpha' },
      { rule: 'account-link', side: 'crm', value: 'Beta 2' },
      { rule: 'fan-out', side: 'crm', value: 'Beta 3' },
    ]);
  });

  it('a lead created locally: its fields start as local values, pushed with the create; a field it did not have starts empty, on the local side', async () => {
    const w = (world = await createWorld(harness));
    const person = await w.engine.createPerson({ lastname: 'Local' });
    await w.cycle(); // created in the CRM as a lead (R14)
    expect(await w.crm.get('lead', person.id)).toMatchObject({ lastname: 'Local' });
    expect(told((await w.engine.fieldHistory('lead', person.id, 'lastname')).steps)).toEqual([
      { rule: 'create', side: 'local', value: 'Local' },
      { rule: 'push', side: 'local', value: 'Local' },
    ]);
    await w.crm.put('lead', person.id, { subject: 'From sales' });
    await w.cycle();
    expect(told((await w.engine.fieldHistory('lead', person.id, 'subject')).steps)).toEqual([
      { rule: 'create', side: 'local', value: null },
      { rule: 'pull', side: 'crm', value: 'From sales' },
    ]);
  });

  it('names an unknown record', async () => {
    const w = (world = await createWorld(harness));
    await expect(w.engine.fieldHistory('contact', 'nobody', 'firstname')).rejects.toMatchObject({ code: 'RECORD_UNKNOWN', message: 'No contact with id nobody' });
  });
});

describe('field history retention', () => {
  it('removes entries older than historyRetentionDays after a cycle, at most once a day by the engine clock, and says the start was pruned', async () => {
    let clock = Date.parse('2026-01-01T00:00:00Z');
    const now = () => new Date(clock);
    const crm = createMemoryCrm();
    crm.defineTable('lead', [field('lastname'), field('subject')]);
    for (const entity of ['account', 'contact', 'systemuser', 'team', 'opportunity']) crm.defineTable(entity, [field('name')]);
    const store = createMemoryStore({ now });
    const engine = createSyncEngine({ adapter: crm, store, now, config: { historyRetentionDays: 30, entities: { contact: { enabled: false }, opportunity: { enabled: false } } } });
    const id = newId();
    crm.put('lead', id, { lastname: 'Old', subject: 'v1' });
    await engine.runCycle();
    crm.put('lead', id, { subject: 'v2' });
    clock += 86_400_000;
    await engine.runCycle();
    expect(told((await engine.fieldHistory('lead', id, 'subject')).steps)).toEqual([
      { rule: 'create', side: 'crm', value: 'v1' },
      { rule: 'pull', side: 'crm', value: 'v2' },
    ]);
    clock += 40 * 86_400_000; // v2 is now 40 days old
    crm.put('lead', id, { subject: 'v3' });
    await engine.runCycle(); // prunes (a day has passed since the last pruning)
    const history = await engine.fieldHistory('lead', id, 'subject');
    expect(told(history.steps)).toEqual([
      { rule: 'create', side: 'crm', value: 'v2' },
      { rule: 'pull', side: 'crm', value: 'v3' },
    ]);
    expect(history.steps[0]).toMatchObject({ at: null, seq: null });
    expect(history.steps[0]?.detail).toContain('pruned');
    // A cycle more than a day after the last pruning prunes again: v3 is not yet 30 days old.
    clock += 30 * 86_400_000 - 2 * 3_600_000;
    crm.put('lead', id, { subject: 'v4' });
    await engine.runCycle();
    expect((await engine.fieldHistory('lead', id, 'subject')).steps.map((s) => s.value)).toEqual(['v2', 'v3', 'v4']);
    // Three hours on, v3 is older than 30 days, but the last pruning was less than a day ago.
    clock += 3 * 3_600_000;
    await engine.runCycle();
    expect((await engine.fieldHistory('lead', id, 'subject')).steps.map((s) => s.value)).toEqual(['v2', 'v3', 'v4']);
    clock += 22 * 3_600_000;
    await engine.runCycle();
    expect((await engine.fieldHistory('lead', id, 'subject')).steps.map((s) => s.value)).toEqual(['v3', 'v4']);
    await engine.stop();
  });
});
