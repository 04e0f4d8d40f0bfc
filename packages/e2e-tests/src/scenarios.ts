import { createSyncEngine, isSyncError } from '@crm-sync/core';
import type { SyncConfigInput } from '@crm-sync/core';
import { expect } from 'vitest';
import type { Harness } from './harness.js';
import { manualTimer, settle } from './manual-timer.js';
import { customEntities } from './harness.js';
import type { World } from './world.js';
import { createWorld, newId } from './world.js';

/** One end-to-end scenario of a rule of DESIGN.md section 1: real engine cycles, both sides asserted. */
export interface Scenario {
  /** The rules it checks (R1-R16), from its name. */
  rules: string[];
  name: string;
  timeoutMs?: number;
  /** Runs it on a harness; throws (an assertion) when the end state is not what the rules say. */
  run(harness: Harness): Promise<void>;
}

type Setup = (config?: SyncConfigInput) => Promise<World>;

/**
 * The rule scenarios: `test/rules.test.ts` runs each on every harness, and `test/mutation.test.ts`
 * runs them with one rule function swapped for a wrong one, to see them fail.
 */
export const scenarios: Scenario[] = [];

function scenario(name: string, body: (setup: Setup) => Promise<void>, timeoutMs?: number): void {
  const rules = (/^(R\d+(?:[/, ]+R\d+)*):/.exec(name)?.[1] ?? '').split(/[/, ]+/).filter(Boolean);
  if (rules.length === 0) throw new Error(`scenario "${name}" does not start with the rules it checks`);
  scenarios.push({
    rules,
    name,
    ...(timeoutMs ? { timeoutMs } : {}),
    async run(harness) {
      const worlds: World[] = [];
      try {
        await body(async (config = {}) => {
          const world = await createWorld(harness, config);
          worlds.push(world);
          return world;
        });
      } finally {
        for (const world of worlds) await world.close();
      }
    },
  });
}

scenario('R1: pulls every entity, pushes persons only', async (setup) => {
  const w = await setup();
  const [user, team, acc, con, lead, opp, mem] = [newId(), newId(), newId(), newId(), newId(), newId(), newId()];
  await w.crm.put('systemuser', user, { fullname: 'Sam Seller' });
  await w.crm.put('team', team, { name: 'EMEA' });
  await w.crm.put('account', acc, { name: 'Acme' });
  await w.crm.put('contact', con, { firstname: 'Ada' }, { parentcustomerid: { id: acc, entity: 'account' } });
  await w.crm.put('lead', lead, { firstname: 'Lin' });
  await w.crm.put('opportunity', opp, { name: 'Big deal' }, { customerid: { id: acc, entity: 'account' } });
  await w.crm.put('new_membership', mem, { new_name: 'Gold' });
  await w.cycle();
  for (const [entity, id] of [['systemuser', user], ['team', team], ['account', acc], ['contact', con], ['lead', lead], ['opportunity', opp], ['new_membership', mem]] as const) {
    expect((await w.local(entity, id))?.crmId, entity).toBe(id);
  }
  await w.engine.editLocal('contact', con, { fields: { jobtitle: 'CTO' } });
  await w.engine.editLocal('lead', lead, { fields: { subject: 'CMO' } });
  const refused = await w.engine.editLocal('opportunity', opp, { fields: { name: 'x' } }).catch((e: unknown) => e);
  expect(isSyncError(refused, 'LOCAL_EDIT_INVALID')).toBe(true);
  await w.cycle();
  expect((await w.crm.get('contact', con))?.jobtitle).toBe('CTO');
  expect((await w.crm.get('lead', lead))?.subject).toBe('CMO');
  expect((await w.crm.get('opportunity', opp))?.name).toBe('Big deal');
});

scenario('R2: the same field edited on both sides keeps the local value on a lead, in both systems', async (setup) => {
  const w = await setup();
  const lead = newId();
  await w.crm.put('lead', lead, { subject: 'Analyst', firstname: 'Lin' });
  await w.cycle();
  await w.engine.editLocal('lead', lead, { fields: { subject: 'Local title' } });
  await w.crm.put('lead', lead, { subject: 'CRM title', firstname: 'Linda' });
  const summary = await w.cycle();
  expect(summary.entities.find((e) => e.entity === 'lead')?.collisions).toBeGreaterThan(0);
  expect((await w.local('lead', lead))?.fields).toMatchObject({ subject: 'Local title', firstname: 'Linda' });
  expect(await w.crm.get('lead', lead)).toMatchObject({ subject: 'Local title', firstname: 'Linda' });
  const [collision] = (await w.store.listCollisions({ limit: 10, entity: 'lead' })).items;
  expect(collision).toMatchObject({ recordId: lead, field: 'subject', localValue: 'Local title', crmValue: 'CRM title', winner: 'local' });
});

scenario('R2: the same field edited on both sides keeps the CRM value on a contact, in both systems', async (setup) => {
  const w = await setup();
  const con = newId();
  await w.crm.put('contact', con, { jobtitle: 'Analyst', lastname: 'Lovelace' });
  await w.cycle();
  await w.engine.editLocal('contact', con, { fields: { jobtitle: 'Local title', emailaddress1: 'ada@local.test' } });
  await w.crm.put('contact', con, { jobtitle: 'CRM title' });
  await w.cycle();
  expect((await w.local('contact', con))?.fields).toMatchObject({ jobtitle: 'CRM title', emailaddress1: 'ada@local.test' });
  expect(await w.crm.get('contact', con)).toMatchObject({ jobtitle: 'CRM title', emailaddress1: 'ada@local.test' });
  const [collision] = (await w.store.listCollisions({ limit: 10, entity: 'contact' })).items;
  expect(collision).toMatchObject({ field: 'jobtitle', winner: 'crm', localValue: 'Local title', crmValue: 'CRM title' });
});

scenario('R3: cycles asked for at once never overlap: each starts after the one before it finished', async (setup) => {
  const w = await setup();
  const events: string[] = [];
  const engine = createSyncEngine({
    adapter: w.crm.adapter,
    store: w.store,
    config: { customEntities },
    runnerId: w.engine.runnerId,
    onEvent: (e) => {
      if (e.type === 'cycle-started' || e.type === 'cycle-finished') events.push(e.type);
    },
  });
  for (let i = 0; i < 120; i += 1) await w.crm.put('contact', newId(), { lastname: `c${i}` });
  const summaries = await Promise.all([engine.runCycle(), engine.trigger(), engine.runCycle()]);
  expect(summaries.map((s) => s.ok)).toEqual([true, true, true]);
  expect(events).toEqual(['cycle-started', 'cycle-finished', 'cycle-started', 'cycle-finished', 'cycle-started', 'cycle-finished']);
  expect((await w.store.stats('contact')).records).toBe(120);
});

scenario('R3: the scheduler runs a cycle, then waits the interval before the next', async (setup) => {
  const w = await setup();
  const started: string[] = [];
  const timer = manualTimer();
  const engine = createSyncEngine({
    adapter: w.crm.adapter,
    store: w.store,
    config: { customEntities, intervalMs: 60_000 },
    runnerId: w.engine.runnerId,
    timer,
    onEvent: (e) => {
      if (e.type === 'cycle-started') started.push(e.at);
    },
  });
  engine.start();
  try {
    // The first cycle has ended when the scheduler sets its timer: a minute's interval.
    expect(await timer.next()).toBe(60_000);
    expect(started).toHaveLength(1);
    timer.advance(59_999);
    await settle();
    expect(started).toHaveLength(1);
    timer.advance(1);
    expect(await timer.next()).toBe(60_000);
    expect(started).toHaveLength(2);
  } finally {
    await engine.stop();
  }
});

scenario('R4: a local account edit reaches every contact locally, is not pushed, and the next CRM change wipes it', async (setup) => {
  const w = await setup();
  const acc = newId();
  const contacts = [newId(), newId(), newId()];
  await w.crm.put('account', acc, { name: 'Acme', telephone1: '555-0100', address1_city: 'Oslo' });
  for (const c of contacts) await w.crm.put('contact', c, { firstname: 'C' }, { parentcustomerid: { id: acc, entity: 'account' } });
  await w.cycle();
  expect((await w.local('contact', contacts[0] as string))?.company).toMatchObject({ name: 'Acme', telephone1: '555-0100' });

  await w.engine.editLocal('contact', contacts[0] as string, { company: { telephone1: '555-LOCAL' } });
  for (const c of contacts) expect((await w.local('contact', c))?.company.telephone1).toBe('555-LOCAL');
  // Each contact's activity says it came from the account, not from the contact's own telephone1.
  const fromAccount = (await w.store.listActivities({ limit: 100, entity: 'contact', recordId: contacts[1] as string })).items.at(-1);
  expect(fromAccount).toMatchObject({
    type: 'change-data-value', source: 'local', field: 'company.telephone1', oldValue: '555-0100', newValue: '555-LOCAL',
    detail: `edited locally on account "Acme" (${acc})`,
  });
  expect((await w.local('account', acc))?.fields.telephone1).toBe('555-LOCAL');
  await w.cycle();
  expect((await w.crm.get('account', acc))?.telephone1).toBe('555-0100');
  expect((await w.local('account', acc))?.fields.telephone1).toBe('555-LOCAL');

  await w.crm.put('account', acc, { address1_city: 'Bergen' });
  await w.cycle();
  for (const c of contacts) expect((await w.local('contact', c))?.company).toMatchObject({ telephone1: '555-0100', address1_city: 'Bergen' });
  expect((await w.local('account', acc))?.fields).toMatchObject({ telephone1: '555-0100', address1_city: 'Bergen' });

  // A contact whose parent becomes a contact has no account: the same empty company as one that never had one.
  const child = newId();
  await w.crm.put('contact', child, { firstname: 'Child' }, { parentcustomerid: { id: contacts[0] as string, entity: 'contact' } });
  await w.crm.put('contact', contacts[1] as string, { firstname: 'Moved' }, { parentcustomerid: { id: contacts[0] as string, entity: 'contact' } });
  await w.cycle();
  expect((await w.local('contact', child))?.company).toEqual({});
  expect(await w.local('contact', contacts[1] as string)).toMatchObject({ accountId: null, company: {} });
  expect((await w.local('contact', contacts[1] as string))?.company).toEqual({});
});

scenario('R5: refuses to create an account or any one-way record in the CRM, and sends nothing', async (setup) => {
  const w = await setup();
  for (const name of ['account', 'opportunity', 'systemuser', 'team', 'new_membership']) {
    const id = newId();
    const error = await w.crm.adapter.createRecords(w.engine.registry.get(name), [{ id, fields: { name: 'Made locally' } }]).catch((e: unknown) => e);
    expect(isSyncError(error, 'CRM_CREATE_REFUSED'), name).toBe(true);
    expect(await w.crm.get(name, id)).toBeNull();
  }
  const person = await w.engine.createPerson({ lastname: 'Only leads are created' });
  await w.cycle();
  expect(await w.crm.get('lead', person.id)).not.toBeNull();
});

scenario('R6/R9: syncs only readable fields, names why others are left out, and sees columns added later', async (setup) => {
  const w = await setup();
  const plan = await w.engine.fieldPlan('contact');
  expect(plan.synced).not.toContain('new_creditlimit');
  expect(plan.excluded).toContainEqual(expect.objectContaining({ field: 'new_creditlimit', reason: 'secured-no-read-privilege' }));
  expect(plan.pushable).not.toContain('fullname');
  await w.crm.addColumn('contact', 'new_segment');
  expect((await w.engine.fieldPlan('contact')).synced).toContain('new_segment');
});

scenario('R6: a local edit of a CRM field the sync user cannot update is refused with its reason, and writes nothing', async (setup) => {
  const w = await setup();
  const con = newId();
  await w.crm.put('contact', con, { firstname: 'Ada', lastname: 'Lovelace' });
  await w.cycle();
  const before = await w.local('contact', con);
  const refused = await w.engine.editLocal('contact', con, { fields: { fullname: 'Someone Else', jobtitle: 'CTO' } }).catch((e: unknown) => e);
  expect(isSyncError(refused, 'LOCAL_EDIT_INVALID')).toBe(true);
  expect((refused as Error).message).toMatch(/fullname \([^)]+\)/);
  const after = await w.local('contact', con);
  expect(after?.revision).toBe(before?.revision);
  expect(after?.pending).toEqual([]);
  await w.cycle();
  expect((await w.crm.get('contact', con))?.jobtitle ?? null).toBeNull();
});

scenario('R6: a synced column the sync user can no longer read keeps its local values and leaves the selection with its reason', async (setup) => {
  const w = await setup();
  const con = newId();
  await w.crm.put('contact', con, { firstname: 'Ada', jobtitle: 'Analyst' });
  await w.cycle();
  await w.crm.addColumn('contact', 'new_color');
  await w.crm.put('contact', con, { new_color: 'teal' });
  await w.engine.addField('contact', 'new_color');
  await w.cycle();
  expect((await w.local('contact', con))?.fields.new_color).toBe('teal');

  // Field security turned on for the column, no read privilege for the sync user; then a staff edit of another field.
  await w.crm.secureColumn('contact', 'new_color');
  await w.crm.put('contact', con, { jobtitle: 'Countess' });
  await w.cycle();
  expect((await w.local('contact', con))?.fields).toMatchObject({ new_color: 'teal', jobtitle: 'Countess' });
  // Its activities: the new person and the staff edit; no change of new_color (to null or otherwise). Quick Sync logs no
  // per-record change, so a filter on new_color changes alone would be empty whatever the engine did.
  expect((await w.activities('contact', con)).map((a) => [a.type, a.field, a.oldValue, a.newValue])).toEqual([
    ['new-person', null, null, null],
    ['change-data-value', 'jobtitle', 'Analyst', 'Countess'],
  ]);
  const plan = await w.engine.fieldPlan('contact');
  expect(plan.synced).not.toContain('new_color');
  expect(plan.excluded).toContainEqual(expect.objectContaining({ field: 'new_color', reason: 'secured-no-read-privilege' }));
});

scenario('R7: an account with exactly 5,000 contacts logs 5,000 activities; 5,001 logs none but updates all', async (setup) => {
  const w = await setup();
  const small = newId();
  const big = newId();
  await w.crm.put('account', small, { name: 'Small', telephone1: 'A' });
  await w.crm.put('account', big, { name: 'Big', telephone1: 'A' });
  for (let i = 0; i < 5_000; i += 1) await w.crm.put('contact', newId(), { lastname: `s${i}` }, { parentcustomerid: { id: small, entity: 'account' } });
  for (let i = 0; i < 5_001; i += 1) await w.crm.put('contact', newId(), { lastname: `b${i}` }, { parentcustomerid: { id: big, entity: 'account' } });
  await w.cycle();
  const before = (await w.store.listActivities({ limit: 1_000_000, entity: 'contact' })).items.filter((a) => a.type === 'change-data-value').length;
  await w.crm.put('account', small, { telephone1: 'B' });
  await w.crm.put('account', big, { telephone1: 'B' });
  await w.cycle();
  const logged = (await w.store.listActivities({ limit: 1_000_000, entity: 'contact' })).items.filter((a) => a.type === 'change-data-value');
  expect(logged.length - before).toBe(5_000);
  // Named as the contact holds the value, with the account it came from: never taken for the contact's own telephone1.
  const fromSmall = logged.slice(before);
  expect(fromSmall.filter((a) => a.field === 'company.telephone1' && a.newValue === 'B' && a.source === 'crm' && a.detail === `changed in the CRM on account "Small" (${small})`)).toHaveLength(5_000);
  const all = (await w.store.listRecords('contact', { limit: 20_000 })).items;
  expect(all.filter((c) => c.accountId === big && c.company.telephone1 === 'B')).toHaveLength(5_001);
  expect(all.filter((c) => c.accountId === small && c.company.telephone1 === 'B')).toHaveLength(5_000);
}, 120_000);

scenario('R8: a local-only field is kept locally and never pushed', async (setup) => {
  const w = await setup();
  const lead = newId();
  await w.crm.put('lead', lead, { firstname: 'Lin' });
  await w.cycle();
  await w.engine.editLocal('lead', lead, { fields: { mkto_score: 42, subject: 'VP' } });
  await w.cycle();
  expect(await w.crm.get('lead', lead)).toMatchObject({ subject: 'VP' });
  expect((await w.crm.get('lead', lead))?.mkto_score).toBeUndefined();
  expect((await w.local('lead', lead))?.fields.mkto_score).toBe(42);
  expect((await w.local('lead', lead))?.pending).toEqual([]);
  // A local person created with a local-only field: the CRM lead gets its CRM fields only.
  const person = await w.engine.createPerson({ lastname: 'Local', mkto_score: 7 });
  await w.cycle();
  expect(await w.crm.get('lead', person.id)).toMatchObject({ lastname: 'Local' });
  expect((await w.crm.get('lead', person.id))?.mkto_score).toBeUndefined();
  expect((await w.local('lead', person.id))?.fields.mkto_score).toBe(7);
});

scenario('R10: Quick Sync backfills a newly selected field for every record with one summary entry', async (setup) => {
  const w = await setup({ entities: { contact: { fields: ['firstname', 'lastname'] } } });
  const ids = [newId(), newId(), newId()];
  for (const id of ids) await w.crm.put('contact', id, { firstname: 'F', lastname: 'L', jobtitle: `title-${id.slice(0, 4)}` });
  await w.cycle();
  expect((await w.local('contact', ids[0] as string))?.fields).not.toHaveProperty('jobtitle');
  const checkpoint = await w.store.getCheckpoint('contact');
  const activitiesBefore = (await w.store.listActivities({ limit: 1000 })).items.length;
  const result = await w.engine.addField('contact', 'jobtitle');
  expect(result.backfilled).toBe(3);
  for (const id of ids) expect((await w.local('contact', id))?.fields.jobtitle).toBe(`title-${id.slice(0, 4)}`);
  expect(await w.store.getCheckpoint('contact')).toBe(checkpoint);
  const added = (await w.store.listActivities({ limit: 1000 })).items.slice(activitiesBefore);
  expect(added.map((a) => a.type)).toEqual(['quick-sync']);
  await w.crm.put('contact', ids[0] as string, { jobtitle: 'changed later' });
  await w.cycle();
  expect((await w.local('contact', ids[0] as string))?.fields.jobtitle).toBe('changed later');
});

scenario('R9, R10: a column that appears in the CRM under an "all fields" selection is backfilled by the cycle after a schema refresh', async (setup) => {
  const w = await setup();
  const id = newId();
  await w.crm.put('lead', id, { firstname: 'Lin' });
  await w.cycle();
  await w.crm.addColumn('lead', 'new_region');
  await w.crm.put('lead', id, { new_region: 'Nordics' });
  // A schema refresh (the runner's `fields` command or API; adapters that cache metadata also refresh on their own).
  expect((await w.engine.fieldPlan('lead')).synced).toContain('new_region');
  await w.cycle();
  expect((await w.local('lead', id))?.fields.new_region).toBe('Nordics');
});

scenario('R9: a new CRM column is told once as schema drift: synced under "all", with the way to add it under a list', async (setup) => {
  const w = await setup({ entities: { contact: { fields: ['firstname', 'lastname'] } } });
  const [lead, con] = [newId(), newId()];
  await w.crm.put('lead', lead, { firstname: 'Lin' });
  await w.crm.put('contact', con, { firstname: 'Ada' });
  await w.cycle();
  await w.crm.addColumn('lead', 'new_region');
  await w.crm.addColumn('contact', 'new_tier');
  await w.crm.put('lead', lead, { new_region: 'Nordics' });
  await w.engine.fieldPlan('lead'); // a schema refresh (adapters that cache metadata also refresh on their own)
  await w.engine.fieldPlan('contact');
  await w.cycle();
  expect((await w.local('lead', lead))?.fields.new_region).toBe('Nordics');
  const drift = async () => (await w.store.listActivities({ limit: 1000 })).items.filter((a) => a.type === 'schema-drift');
  const told = await drift();
  expect(told.map((a) => [a.entity, a.recordId, a.source])).toEqual(expect.arrayContaining([['lead', '*', 'crm'], ['contact', '*', 'crm']]));
  expect(told.find((a) => a.entity === 'lead')?.detail).toContain('new CRM column lead.new_region: synced');
  expect(told.find((a) => a.entity === 'contact')?.detail).toContain('new CRM column contact.new_tier: not selected: add it to the sync with `crm-sync fields add`');
  await w.cycle();
  expect(await drift()).toHaveLength(told.length);
});

scenario('R11: records with the sync filter explicitly false are not synced; null and true are', async (setup) => {
  const w = await setup();
  const [no, yes, unset] = [newId(), newId(), newId()];
  await w.crm.put('lead', no, { firstname: 'No', new_synctomkto: false });
  await w.crm.put('lead', yes, { firstname: 'Yes', new_synctomkto: true });
  await w.crm.put('lead', unset, { firstname: 'Unset', new_synctomkto: null });
  await w.cycle();
  expect(await w.local('lead', no)).toBeUndefined();
  expect(await w.local('lead', yes)).toBeDefined();
  expect(await w.local('lead', unset)).toBeDefined();
  await w.engine.editLocal('lead', yes, { fields: { subject: 'before filter' } });
  await w.crm.put('lead', yes, { new_synctomkto: false, firstname: 'Changed in CRM' });
  await w.cycle();
  expect((await w.local('lead', yes))?.fields.firstname).toBe('Yes');
  expect((await w.crm.get('lead', yes))?.subject ?? null).toBeNull();
});

scenario('R12: a contact deleted in the CRM stays local, flagged, with an activity', async (setup) => {
  const w = await setup();
  const con = newId();
  await w.crm.put('contact', con, { firstname: 'Gone' });
  await w.cycle();
  await w.crm.remove('contact', con);
  await w.cycle();
  const record = await w.local('contact', con);
  expect(record?.crmDeleted).toBe(true);
  expect(record?.fields.firstname).toBe('Gone');
  expect((await w.activities('contact', con)).map((a) => a.type)).toContain('crm-deleted');
});

scenario('R12: an edit of CRM fields of a person deleted in the CRM is refused, naming the record; its local-only fields stay editable', async (setup) => {
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
  expect(after?.pending).toEqual([]);
  expect((await w.engine.editLocal('contact', con, { fields: { x_score: 7 } })).fields.x_score).toBe(7);
});

scenario('R12: a full read that lost most of a table flags nothing and says why', async (setup) => {
  const w = await setup();
  const ids = Array.from({ length: 20 }, newId);
  for (const id of ids) await w.crm.put('lead', id, { firstname: 'x' });
  await w.cycle();
  for (const id of ids.slice(0, 15)) await w.crm.remove('lead', id);
  await w.crm.expireTokensAndForgetDeletes();
  const summary = await w.engine.runCycle();
  const lead = summary.entities.find((e) => e.entity === 'lead');
  expect(lead?.status).toBe('failed');
  expect(lead?.error?.code).toBe('RECONCILE_REFUSED');
  expect((await w.store.stats('lead')).crmDeleted).toBe(0);
});

scenario('R13: the sync user\'s own writes come back and change nothing', async (setup) => {
  const w = await setup();
  const lead = newId();
  await w.crm.put('lead', lead, { firstname: 'Lin' });
  await w.cycle();
  await w.engine.editLocal('lead', lead, { fields: { subject: 'Pushed' } });
  await w.cycle();
  const before = await w.local('lead', lead);
  const activities = (await w.activities('lead', lead)).length;
  const summary = await w.cycle();
  expect(summary.entities.find((e) => e.entity === 'lead')).toMatchObject({ echoes: 1, applied: 0, pushed: 0 });
  const after = await w.local('lead', lead);
  expect(after?.fields).toEqual(before?.fields);
  expect(after?.revision).toBe(before?.revision);
  expect((await w.activities('lead', lead)).length).toBe(activities);
});

scenario('R14: a local person marked for sync is created as a CRM lead with its id stored; matching is by id', async (setup) => {
  const w = await setup();
  const existing = newId();
  await w.crm.put('lead', existing, { emailaddress1: 'same@x.test', firstname: 'CRM' });
  await w.cycle();
  const person = await w.engine.createPerson({ firstname: 'New', emailaddress1: 'same@x.test' });
  expect(person.crmId).toBeNull();
  const summary = await w.cycle();
  expect(summary.entities.find((e) => e.entity === 'lead')?.created).toBe(1);
  const synced = await w.local('lead', person.id);
  expect(synced?.crmId).toBe(person.id);
  expect(await w.crm.get('lead', person.id)).toMatchObject({ firstname: 'New', emailaddress1: 'same@x.test' });
  expect((await w.crm.get('lead', existing))?.firstname).toBe('CRM');
  await w.cycle();
  expect((await w.store.listRecords('lead', { limit: 10 })).items).toHaveLength(2);
});

scenario('R15: a contact is linked to its account only when parentcustomerid points to an account', async (setup) => {
  const w = await setup();
  const [acc, parent, child] = [newId(), newId(), newId()];
  await w.crm.put('account', acc, { name: 'Acme' });
  await w.crm.put('contact', parent, {}, { parentcustomerid: { id: acc, entity: 'account' } });
  await w.crm.put('contact', child, {}, { parentcustomerid: { id: parent, entity: 'contact' } });
  await w.cycle();
  expect((await w.local('contact', parent))?.accountId).toBe(acc);
  expect((await w.local('contact', parent))?.company.name).toBe('Acme');
  expect((await w.local('contact', child))?.accountId).toBeNull();
});

scenario('R16: a large account backlog does not hold contacts back until it is drained', async (setup) => {
  const w = await setup({ pagesPerTurn: 1 });
  const applied: string[] = [];
  const order = createSyncEngine({
    adapter: w.crm.adapter,
    store: w.store,
    config: { pagesPerTurn: 1, customEntities: [{ name: 'new_membership' }] },
    runnerId: w.engine.runnerId,
    onEvent: (e) => {
      if (e.type === 'page-applied') applied.push(e.entity);
    },
  });
  for (let i = 0; i < 500; i += 1) await w.crm.put('account', newId(), { name: `a${i}` });
  await w.crm.put('contact', newId(), { firstname: 'waiting' });
  await order.runCycle();
  const firstContact = applied.indexOf('contact');
  const lastAccount = applied.lastIndexOf('account');
  expect(firstContact).toBeGreaterThan(-1);
  expect(firstContact).toBeLessThan(lastAccount);
  // Each entity's first page comes in dependency order: users, teams, accounts, contacts, leads, opportunities, custom.
  expect([...new Set(applied)]).toEqual(['systemuser', 'team', 'account', 'contact', 'lead', 'opportunity', 'new_membership']);
});
