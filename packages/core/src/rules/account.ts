import type { FanOutLog, RecordRef } from '../contracts/store.js';
import type { EntityDefinition } from '../entities.js';
import { accountLinkOf } from '../entities.js';
import type { FieldMap } from '../values.js';
import { sameValue, valueOf } from '../values.js';

/** R7: per-contact Change Data Value activities are logged up to this many contacts (inclusive). */
export const DEFAULT_CHANGE_DATA_VALUE_THRESHOLD = 5_000;

/**
 * R7: a change to an account logs a Change Data Value activity on each of its contacts, unless the
 * account has more than `threshold` contacts: exactly `threshold` still logs, one more does not.
 * The change itself reaches every contact either way.
 */
export function logsPerContactActivities(contactCount: number, threshold = DEFAULT_CHANGE_DATA_VALUE_THRESHOLD): boolean {
  return contactCount <= threshold;
}

/**
 * R4: the account values every contact must show after a CRM change to the account: all of its
 * synced fields, from the CRM, not only the fields that changed (local account edits are wiped).
 * `changed` lists the fields whose local value differs from the CRM's (what activities report).
 */
export function accountOverwrite(
  syncedFields: readonly string[],
  local: FieldMap,
  crm: FieldMap,
): { company: FieldMap; changed: string[] } {
  const company: FieldMap = {};
  const changed: string[] = [];
  for (const field of syncedFields) {
    const value = valueOf(crm, field);
    company[field] = value;
    if (!sameValue(valueOf(local, field), value)) changed.push(field);
  }
  return { company, changed };
}

/** R4: a local account edit: the fields that actually change, to set on the account and all its contacts. */
export function localAccountEdit(current: FieldMap, edits: FieldMap): { company: FieldMap; changed: string[] } {
  const changed = Object.keys(edits).filter((f) => !sameValue(valueOf(current, f), edits[f]));
  return { company: Object.fromEntries(changed.map((f) => [f, edits[f] ?? null])), changed };
}

/**
 * R7: the detail of the Change Data Value activities an account change logs on its contacts (their
 * field is `company.<field>`): which account, and whether the change came from the CRM or a local edit.
 */
export function fanOutDetail(accountId: string, account: FieldMap, source: 'crm' | 'local'): string {
  const name = valueOf(account, 'name');
  const which = typeof name === 'string' && name !== '' ? `account "${name}" (${accountId})` : `account ${accountId}`;
  return source === 'crm' ? `changed in the CRM on ${which}` : `edited locally on ${which}`;
}

/**
 * R7: the activities of an account fan-out: a Change Data Value activity per contact and changed
 * field, naming the field as the contact holds it (`company.<field>`, never the contact's own field
 * of that name) with `fanOutDetail` as its detail.
 */
export function fanOutLog(changed: readonly string[], source: 'crm' | 'local', detail: string): FanOutLog {
  return { fields: Object.fromEntries(changed.map((f) => [f, `company.${f}`])), type: 'change-data-value', source, detail };
}

/** R4, R15: the record a contact's company mirrors: the account its lookup names (none: no values). */
export function companySource(accountId: string | null): RecordRef {
  return { entity: 'account', crmId: accountId };
}

/**
 * R4: the entities an account's changes reach (set-wise, on every record linked to it): those with an
 * account link, when `entity` is the account; none for any other entity.
 */
export function fanOutTargets(entity: EntityDefinition, all: readonly EntityDefinition[]): EntityDefinition[] {
  return entity.kind === 'account' ? all.filter((e) => accountLinkOf(e) !== undefined) : [];
}
