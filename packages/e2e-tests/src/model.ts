import type { FieldMap, FieldValue } from '@crm-sync/core';
import type { World } from './world.js';
import { newId } from './world.js';

/**
 * An independent model of the rules for randomized runs: both sides are edited between cycles, the
 * model says what both sides must hold after each cycle (R2 per field with the entity's winner, R4
 * account overwrite, R12 deletes, R14 creates), and `compare` lists every difference.
 */
export const personFields: Record<'lead' | 'contact', string[]> = {
  lead: ['firstname', 'lastname', 'subject', 'companyname', 'telephone1'],
  contact: ['firstname', 'lastname', 'jobtitle', 'telephone1', 'emailaddress1'],
};
export const accountFields = ['name', 'address1_city', 'telephone1', 'websiteurl'];
const values = ['alpha', 'beta', 'gamma', 'delta'];

/** The seeded PRNG the randomized runs draw from: the same seed gives the same run. */
export { prng } from '@crm-sync/store-testkit';

interface PersonModel {
  entity: 'lead' | 'contact';
  agreed: FieldMap;
  local: FieldMap;
  crm: FieldMap;
  deleted: boolean;
  inCrm: boolean;
  /** Created in the CRM since the last cycle: not local yet. */
  crmOnly: boolean;
  accountId: string | null;
}
interface AccountModel {
  crm: FieldMap;
  local: FieldMap;
  crmChanged: boolean;
}

const v = (map: FieldMap, f: string): FieldValue => map[f] ?? null;

export interface Model {
  /** Seeds the CRM with accounts and persons (call before the first cycle). */
  seed(accounts: number, leads: number, contacts: number): Promise<void>;
  /** Random edits on both sides, as between two cycles. Returns how many were made. */
  edit(operations: number): Promise<number>;
  /** What a cycle does, by the rules; call after each cycle. */
  settle(): void;
  /** Every difference between both sides and the model (empty when they agree). */
  compare(): Promise<string[]>;
  counts(): { lead: number; contact: number };
}

export function createModel(w: World, random: () => number): Model {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const persons = new Map<string, PersonModel>();
  const accounts = new Map<string, AccountModel>();

  const addAccount = async () => {
    const id = newId();
    const crm = Object.fromEntries(accountFields.map((f) => [f, pick(values)]));
    await w.crm.put('account', id, crm);
    accounts.set(id, { crm: { ...crm }, local: { ...crm }, crmChanged: false });
  };
  const addCrmPerson = async (entity: 'lead' | 'contact') => {
    const id = newId();
    const fields = Object.fromEntries(personFields[entity].map((f) => [f, pick(values)]));
    const accountId = entity === 'contact' ? pick([...accounts.keys()]) : null;
    await w.crm.put(entity, id, fields, accountId ? { parentcustomerid: { id: accountId, entity: 'account' } } : undefined);
    persons.set(id, { entity, agreed: { ...fields }, local: { ...fields }, crm: { ...fields }, deleted: false, inCrm: true, crmOnly: true, accountId });
  };

  return {
    async seed(accountCount, leads, contacts) {
      for (let i = 0; i < accountCount; i += 1) await addAccount();
      for (let i = 0; i < leads; i += 1) await addCrmPerson('lead');
      for (let i = 0; i < contacts; i += 1) await addCrmPerson('contact');
    },

    async edit(operations) {
      let made = 0;
      for (let op = 0; op < operations; op += 1) {
        const live = [...persons.entries()].filter(([, p]) => !p.deleted && p.inCrm);
        const roll = random();
        if (roll < 0.35 && live.length > 0) {
          const [id, p] = pick(live);
          const f = pick(personFields[p.entity]);
          const value = pick(values);
          await w.crm.put(p.entity, id, { [f]: value });
          p.crm[f] = value;
        } else if (roll < 0.7) {
          const candidates = [...persons.entries()].filter(([, p]) => !p.deleted && !p.crmOnly);
          if (candidates.length === 0) continue;
          const [id, p] = pick(candidates);
          const f = pick(personFields[p.entity]);
          const value = pick(values);
          await w.engine.editLocal(p.entity, id, { fields: { [f]: value } });
          p.local[f] = value;
        } else if (roll < 0.78) {
          const [id, a] = pick([...accounts.entries()]);
          const f = pick(accountFields);
          const value = pick(values);
          await w.crm.put('account', id, { [f]: value });
          a.crmChanged = true; // any update in the CRM, even to the same value, overwrites local edits (R4)
          a.crm[f] = value;
        } else if (roll < 0.86) {
          const [id, a] = pick([...accounts.entries()]);
          const f = pick(accountFields);
          const value = pick(values);
          await w.engine.editLocal('account', id, { fields: { [f]: value } });
          a.local[f] = value;
        } else if (roll < 0.91) {
          await addCrmPerson(pick(['lead', 'contact'] as const));
        } else if (roll < 0.96) {
          const fields = Object.fromEntries(personFields.lead.map((f) => [f, pick(values)]));
          const created = await w.engine.createPerson(fields);
          persons.set(created.id, { entity: 'lead', agreed: {}, local: { ...fields }, crm: {}, deleted: false, inCrm: false, crmOnly: false, accountId: null });
        } else if (live.length > 3) {
          const [id, p] = pick(live);
          await w.crm.remove(p.entity, id);
          p.deleted = true;
        } else continue;
        made += 1;
      }
      return made;
    },

    settle() {
      for (const [id, p] of persons) {
        if (p.crmOnly && p.deleted) persons.delete(id); // created and deleted in the CRM between two cycles: never seen
        p.crmOnly = false;
        if (p.deleted) continue;
        if (!p.inCrm) {
          p.crm = { ...p.local };
          p.agreed = { ...p.local };
          p.inCrm = true;
          continue;
        }
        for (const f of personFields[p.entity]) {
          const [a, l, c] = [v(p.agreed, f), v(p.local, f), v(p.crm, f)];
          let result = a;
          if (l !== a && c !== a) result = l === c ? l : p.entity === 'lead' ? l : c;
          else if (l !== a) result = l;
          else if (c !== a) result = c;
          p.agreed[f] = result;
          p.local[f] = result;
          p.crm[f] = result;
        }
      }
      for (const a of accounts.values()) {
        if (a.crmChanged) a.local = { ...a.crm };
        a.crmChanged = false;
      }
    },

    async compare() {
      const problems: string[] = [];
      for (const [id, p] of persons) {
        const local = await w.local(p.entity, id);
        if (!local) {
          problems.push(`${p.entity} ${id}: missing locally`);
          continue;
        }
        if (local.crmDeleted !== p.deleted) problems.push(`${p.entity} ${id}: crmDeleted ${local.crmDeleted}, expected ${p.deleted}`);
        const crm = await w.crm.get(p.entity, id);
        for (const f of personFields[p.entity]) {
          if (v(local.fields, f) !== v(p.local, f)) problems.push(`${p.entity} ${id}.${f}: local ${v(local.fields, f)}, expected ${v(p.local, f)}`);
          if (!p.deleted && v(crm ?? {}, f) !== v(p.crm, f)) problems.push(`${p.entity} ${id}.${f}: CRM ${v(crm ?? {}, f)}, expected ${v(p.crm, f)}`);
        }
        if (!p.deleted && local.pending.length > 0) problems.push(`${p.entity} ${id}: still pending ${local.pending.join(',')}`);
        if (p.accountId) {
          const account = accounts.get(p.accountId) as AccountModel;
          for (const f of accountFields) {
            if (v(local.company, f) !== v(account.local, f)) problems.push(`contact ${id} company.${f}: ${v(local.company, f)}, expected ${v(account.local, f)}`);
          }
        }
      }
      for (const [id, a] of accounts) {
        const local = await w.local('account', id);
        for (const f of accountFields) {
          if (v(local?.fields ?? {}, f) !== v(a.local, f)) problems.push(`account ${id}.${f}: local ${v(local?.fields ?? {}, f)}, expected ${v(a.local, f)}`);
        }
      }
      const counts = this.counts();
      for (const entity of ['lead', 'contact'] as const) {
        const stored = (await w.store.stats(entity)).records;
        if (stored !== counts[entity]) problems.push(`${entity}: ${stored} records, expected ${counts[entity]}`);
      }
      return problems;
    },

    counts() {
      const counts = { lead: 0, contact: 0 };
      for (const p of persons.values()) counts[p.entity] += 1;
      return counts;
    },
  };
}
