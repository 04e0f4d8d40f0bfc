import type { ActivityInput, FieldHistoryInput, FieldMap, LocalRecord, Page, RecordWrite, StoreBatch } from '@crm-sync/core';

/** A row of the records table as the driver returns it (bigint as text or number). */
export interface RecordRow {
  entity: string;
  id: string;
  crm_id: string | null;
  crm_version: string | null;
  revision: string | number;
  fields: FieldMap;
  base: FieldMap;
  pending: string[];
  account_id: string | null;
  company: FieldMap;
  crm_deleted: boolean;
  sync_to_crm: boolean;
  seen_in: string | null;
  updated_at: Date;
}

export const RECORD_COLUMNS =
  'entity, id, crm_id, crm_version, revision, fields, base, pending, account_id, company, crm_deleted, sync_to_crm, seen_in, updated_at';

export function toRecord(row: RecordRow): LocalRecord {
  return {
    entity: row.entity, id: row.id, crmId: row.crm_id, crmVersion: row.crm_version, revision: Number(row.revision),
    fields: row.fields, base: row.base, pending: row.pending, accountId: row.account_id, company: row.company,
    crmDeleted: row.crm_deleted, syncToCrm: row.sync_to_crm, seenIn: row.seen_in, updatedAt: row.updated_at.toISOString(),
  };
}

export function pageOf<T>(items: T[], limit: number, key: (item: T) => string | number): Page<T> {
  const more = items.length > limit;
  const kept = more ? items.slice(0, limit) : items;
  return { items: kept, next: more ? key(kept[kept.length - 1] as T) : null };
}

/** JSON for a jsonb parameter; undefined members are dropped, which the SQL reads as "not given". */
export const json = (value: unknown): string => JSON.stringify(value);

/**
 * A record as the batch statement reads it. A record read from the CRM usually has its base and
 * fields as one object (nothing local differs yet): it is sent once, flagged, which spares the
 * runner and PostgreSQL a third of the JSON of an initial load.
 */
export function slim(record: RecordWrite): RecordWrite | (Omit<RecordWrite, 'base'> & { baseIsFields: true }) {
  if (record.base === undefined || record.base !== record.fields) return record;
  const { base: _same, ...rest } = record;
  return { ...rest, baseIsFields: true };
}

export function companyFromCell(r: RecordWrite): string | [string, string | null] | null {
  if (!r.companyFrom) return null;
  return r.companyFrom.crmId === r.accountId ? r.companyFrom.entity : [r.companyFrom.entity, r.companyFrom.crmId];
}

/**
 * A new record (expected revision 0) for the insert statement, as an array read by position:
 * 0 id, 1 crmId, 2 crmVersion, 3 fields, 4 base (`true`: the fields object), 5 pending, 6 accountId,
 * 7 companyFrom (its entity alone when its crmId is the accountId, as for every linked record the
 * engine reads from the CRM; else [entity, crmId]), 8 company, 9 crmDeleted, 10 syncToCrm, 11 seenIn;
 * null where not given.
 * Without key names PostgreSQL parses and sorts about half the JSON of a keyed object.
 */
export function newRecordRow(r: RecordWrite): unknown[] {
  return [
    r.id, r.crmId ?? null, r.crmVersion ?? null, r.fields ?? null, r.base === undefined ? null : r.base === r.fields ? true : r.base,
    r.pending ?? null, r.accountId ?? null, companyFromCell(r), r.company ?? null, r.crmDeleted ?? null,
    r.syncToCrm ?? null, r.seenIn ?? null,
  ];
}

/**
 * The ids of a batch whose activities are exactly one New Person activity from the CRM per record,
 * in the records' order (a page of an initial load), else null. Those are sent as a list of ids:
 * PostgreSQL then reads a text array instead of an object per activity.
 */
export function newPersonIds(batch: StoreBatch): string[] | null {
  const records = batch.records ?? [];
  const activities = batch.activities ?? [];
  if (activities.length === 0 || activities.length !== records.length) return null;
  const ids: string[] = [];
  for (let i = 0; i < activities.length; i++) {
    const a = activities[i] as ActivityInput;
    const id = (records[i] as RecordWrite).id;
    if (a.type !== 'new-person' || a.source !== 'crm' || a.entity !== batch.entity || a.recordId !== id) return null;
    if ((a.field ?? null) !== null || (a.oldValue ?? null) !== null || (a.newValue ?? null) !== null || (a.detail ?? null) !== null) return null;
    ids.push(id);
  }
  return ids;
}

/** A field history entry by position: 0 entity, 1 recordId, 2 field, 3 rule, 4 side, 5 oldValue, 6 value, 7 collision, 8 detail. */
export function historyRow(h: FieldHistoryInput): unknown[] {
  return [h.entity, h.recordId, h.field, h.rule, h.side, h.oldValue ?? null, h.value, h.collision ?? null, h.detail ?? null];
}

/** An activity by position: 0 entity, 1 recordId, 2 type, 3 source, 4 field, 5 oldValue, 6 newValue, 7 detail. */
export function activityRow(a: ActivityInput): unknown[] {
  return [a.entity, a.recordId, a.type, a.source, a.field ?? null, a.oldValue ?? null, a.newValue ?? null, a.detail ?? null];
}

