import type { FanOutHistory, FieldHistoryInput } from '../contracts/store.js';
import type { FieldMap } from '../values.js';
import { sameValue, valueOf } from '../values.js';
import type { FieldChange, FieldCollision } from './merge.js';

/**
 * Field history (see FieldHistoryRule in contracts/store.ts): the entries each rule writes. A record's
 * creation writes none (its first value is read from the record), except a local person created
 * through the API, whose fields' first values are local.
 */

/** R2: a pull's changes (`pull`, from the CRM) and collisions (`collision`, both values, the winner's value kept). */
export function pullHistory(
  entity: string,
  recordId: string,
  changes: readonly FieldChange[],
  collisions: readonly FieldCollision[],
): FieldHistoryInput[] {
  const collided = new Map(collisions.map((c) => [c.field, c]));
  const out: FieldHistoryInput[] = [];
  for (const c of changes) {
    if (!collided.has(c.field)) out.push({ entity, recordId, field: c.field, rule: 'pull', side: 'crm', oldValue: c.oldValue, value: c.newValue });
  }
  for (const c of collisions) {
    out.push({
      entity, recordId, field: c.field, rule: 'collision', side: c.winner, oldValue: c.localValue,
      value: c.winner === 'local' ? c.localValue : c.crmValue,
      collision: { localValue: c.localValue, crmValue: c.crmValue, winner: c.winner },
      detail: `changed on both sides: local ${JSON.stringify(c.localValue)}, CRM ${JSON.stringify(c.crmValue)}; ${c.winner === 'local' ? 'the local value' : 'the CRM value'} won`,
    });
  }
  return out;
}

/** A local edit through the API: each field whose value changes. */
export function localEditHistory(entity: string, recordId: string, changes: readonly FieldChange[]): FieldHistoryInput[] {
  return changes.map((c) => ({ entity, recordId, field: c.field, rule: 'local-edit', side: 'local', oldValue: c.oldValue, value: c.newValue }));
}

/** R14: a local person created through the API: the first value of each field it was given. */
export function createHistory(entity: string, recordId: string, fields: FieldMap): FieldHistoryInput[] {
  return Object.entries(fields).map(([field, value]) => ({
    entity, recordId, field, rule: 'create', side: 'local', oldValue: null, value, detail: 'created locally',
  }));
}

/** A push the CRM accepted: the local value, unchanged, is now the CRM's too (`create`: a lead created in the CRM). */
export function pushHistory(entity: string, recordId: string, sent: FieldMap, create: boolean): FieldHistoryInput[] {
  return Object.entries(sent).map(([field, value]) => ({
    entity, recordId, field, rule: 'push', side: 'local', oldValue: value, value,
    detail: create ? 'sent to the CRM with the create' : 'sent to the CRM',
  }));
}

/** R10: the values a Quick Sync sets on a record, where they differ from what it held. */
export function quickSyncHistory(entity: string, recordId: string, held: FieldMap, values: FieldMap): FieldHistoryInput[] {
  const out: FieldHistoryInput[] = [];
  for (const [field, value] of Object.entries(values)) {
    const old = valueOf(held, field);
    if (!sameValue(old, value)) out.push({ entity, recordId, field, rule: 'quick-sync', side: 'crm', oldValue: old, value, detail: 'Quick Sync: backfilled from the CRM' });
  }
  return out;
}

/** R11: the sync filter field set to false by the CRM, kept locally. */
export function syncFilterHistory(entity: string, recordId: string, field: string, old: FieldMap): FieldHistoryInput[] {
  return [{ entity, recordId, field, rule: 'sync-filter', side: 'crm', oldValue: valueOf(old, field), value: false, detail: 'the CRM set the sync filter to false: the record no longer syncs' }];
}

/**
 * R4, R7: the history of an account fan-out: one entry per changed key for the whole account (the
 * store joins it to each record of the account), named as the record holds it (`company.<key>`).
 */
export function fanOutHistory(changed: readonly string[], oldValues: FieldMap, side: 'crm' | 'local', detail: string): FanOutHistory {
  return {
    fields: Object.fromEntries(changed.map((f) => [f, `company.${f}`])),
    side,
    oldValues: Object.fromEntries(changed.map((f) => [f, valueOf(oldValues, f)])),
    detail,
  };
}

/**
 * R15: a record linked to another account (or none): its company fields now mirror that account's
 * fields (`account`, null: none). One entry per key held before or after, even unchanged, so the
 * history of every company field marks where the fan-outs of the new account start to count.
 */
export function accountLinkHistory(
  entity: string,
  recordId: string,
  accountId: string | null,
  held: FieldMap,
  account: FieldMap | null,
): FieldHistoryInput[] {
  const now = account ?? {};
  const keys = [...new Set([...Object.keys(held), ...Object.keys(now)])];
  const detail = accountId === null ? 'no longer linked to an account' : `linked to account ${accountId}`;
  return keys.map((key) => ({
    entity, recordId, field: `company.${key}`, rule: 'account-link', side: 'crm', oldValue: valueOf(held, key), value: valueOf(now, key), detail,
  }));
}
