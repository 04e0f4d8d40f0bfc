// A small sync of the memory store from an in-process fake CRM: the main job until the runner app
// (with the Dataverse simulator and the HTTP dashboard) exists. It shows the rules at work: an
// initial sync, edits on both sides, a collision per person type, an account edit fanned out to
// contacts, a delete flagged, and a new local person created in the CRM.
import { createSyncEngine } from '@crm-sync/core';
import type { CycleSummary } from '@crm-sync/core';
import { createMemoryStore } from '@crm-sync/memory-store';
import { createFakeCrm } from '../src/fake-crm.js';
import { customEntities, scenarioColumns } from '../src/harness.js';
import { newId } from '../src/world.js';

const crm = createFakeCrm();
crm.pageSize = 500;
for (const [entity, columns] of Object.entries(scenarioColumns)) crm.defineTable(entity, columns);
const store = createMemoryStore();
const engine = createSyncEngine({ adapter: crm, store, config: { customEntities } });

const accounts = Array.from({ length: 20 }, (_, i) => {
  const id = newId();
  crm.put('account', id, { name: `Account ${i + 1}`, telephone1: `555-01${String(i).padStart(2, '0')}`, address1_city: 'Oslo' });
  return id;
});
const contacts = Array.from({ length: 2_000 }, (_, i) => {
  const id = newId();
  const account = accounts[i % accounts.length] as string;
  crm.put('contact', id, { firstname: `Contact${i}`, lastname: 'Doe', jobtitle: 'Engineer' }, { lookups: { parentcustomerid: { id: account, entity: 'account' } } });
  return id;
});
const leads = Array.from({ length: 500 }, (_, i) => {
  const id = newId();
  crm.put('lead', id, { firstname: `Lead${i}`, lastname: 'Roe', subject: 'Webinar signup' });
  return id;
});

function show(title: string, summary: CycleSummary): void {
  console.log(`\n${title} (${summary.durationMs} ms)`);
  console.table(
    summary.entities.map((e) => ({
      entity: e.entity, status: e.status, pulled: e.pulled, applied: e.applied, pushed: e.pushed, created: e.created,
      collisions: e.collisions, deleted: e.deleted, echoes: e.echoes,
    })),
  );
}

show('Cycle 1: initial sync', await engine.runCycle());

const lead = leads[0] as string;
const contact = contacts[0] as string;
await engine.editLocal('lead', lead, { fields: { subject: 'Marketing says: hot lead' } });
crm.put('lead', lead, { subject: 'Sales says: cold lead' });
await engine.editLocal('contact', contact, { fields: { jobtitle: 'Marketing says: CTO' } });
crm.put('contact', contact, { jobtitle: 'Sales says: CEO' });
await engine.editLocal('contact', contact, { company: { telephone1: '555-EDITED-LOCALLY' } });
crm.remove('contact', contacts[1] as string);
const person = await engine.createPerson({ firstname: 'New', lastname: 'Person', emailaddress1: 'new.person@example.test' });
show('Cycle 2: edits on both sides', await engine.runCycle());
show('Cycle 3: nothing changed (the pushed values come back as echoes)', await engine.runCycle());

const collisions = (await store.listCollisions({ limit: 10 })).items;
console.log('\nCollisions (R2: local wins for leads, the CRM for contacts):');
for (const c of collisions) console.log(`  ${c.entity} ${c.field}: local "${c.localValue}" vs CRM "${c.crmValue}" -> ${c.winner} wins`);
console.log(`\nLead in the CRM now: "${crm.row('lead', lead)?.fields.subject}"; contact in the CRM now: "${crm.row('contact', contact)?.fields.jobtitle}"`);
const accountId = (await store.getRecords('contact', [contact]))[0]?.accountId as string;
const siblings = (await store.listRecords('contact', { limit: 10_000 })).items.filter((c) => c.accountId === accountId);
console.log(`Local account edit reached ${siblings.filter((c) => c.company.telephone1 === '555-EDITED-LOCALLY').length} of ${siblings.length} contacts of the account (R4); the CRM account still says "${crm.row('account', accountId)?.fields.telephone1}".`);
console.log(`Deleted contact flagged locally: ${(await store.getRecords('contact', [contacts[1] as string]))[0]?.crmDeleted} (R12)`);
console.log(`New local person created in the CRM as lead ${person.id}: ${crm.row('lead', person.id) ? 'yes' : 'no'} (R14)`);
await engine.stop();
