import type { FieldCollisionDetail, FieldHistoryEntry, FieldHistoryRule, LocalRecord, SyncStore } from '../contracts/store.js';
import type { EntityDefinition } from '../entities.js';
import { SyncError } from '../errors.js';
import type { FieldValue } from '../values.js';

/** Engine state: the cut-off (ISO) of the last field history pruning; entries older than it are gone. */
export const HISTORY_PRUNED_BEFORE = 'history:pruned-before';

/** One step of a field's history as told to a person (API, CLI, dashboard). */
export interface FieldHistoryStep {
  /** The store's entry number; null for the value the record was created with (read from the record). */
  seq: number | null;
  /** When (ISO); null when unknown (created before history was kept, or its history pruned). */
  at: string | null;
  rule: FieldHistoryRule;
  side: 'crm' | 'local';
  /** The value the field held locally after this step. */
  value: FieldValue;
  oldValue: FieldValue;
  collision: FieldCollisionDetail | null;
  /** The account whose fan-out this is (`fan-out`), else null. */
  accountId: string | null;
  detail: string | null;
}

export interface FieldHistoryReport {
  entity: string;
  id: string;
  field: string;
  /** What the field holds now (`company.<key>`: the account value the record shows). */
  current: FieldValue;
  /** Oldest first; the first page starts with the value the record was created with. */
  steps: FieldHistoryStep[];
  /** Cursor for the next page (a seq), or null at the end. */
  next: number | null;
}

const toStep = (e: FieldHistoryEntry): FieldHistoryStep => ({
  seq: e.seq, at: e.at, rule: e.rule, side: e.side, value: e.value, oldValue: e.oldValue, collision: e.collision,
  accountId: e.recordId === null ? e.accountId : null, detail: e.detail,
});

/**
 * Why a field holds its value: every value it held locally, oldest first, with when, the side and the
 * rule. The first page opens with the value the record was created with, which writes no history
 * (see FieldHistoryRule): the value before its first entry, or the current value when it has none.
 * Unknown record: RECORD_UNKNOWN; a store without history: FIELD_HISTORY_UNAVAILABLE.
 */
export async function readFieldHistory(
  store: SyncStore,
  entity: EntityDefinition,
  id: string,
  field: string,
  page: { limit: number; after?: number },
): Promise<FieldHistoryReport> {
  const [record] = await store.getRecords(entity.name, [id]);
  if (!record) throw new SyncError('RECORD_UNKNOWN', `No ${entity.name} with id ${id}`, { details: { entity: entity.name, id } });
  if (!store.listFieldHistory) {
    throw new SyncError('FIELD_HISTORY_UNAVAILABLE', `The ${store.name} store keeps no field history`, { details: { store: store.name } });
  }
  const company = field.startsWith('company.') ? field.slice('company.'.length) : null;
  const current = (company === null ? record.fields[field] : record.company[company]) ?? null;
  const found = await store.listFieldHistory({ entity: entity.name, recordId: id, field, limit: page.limit, ...(page.after !== undefined ? { after: page.after } : {}) });
  const steps = found.items.map(toStep);
  const first = found.items[0];
  if (page.after === undefined && first?.rule !== 'create') {
    const prunedBefore = await store.getState(HISTORY_PRUNED_BEFORE);
    const created = found.recordCreatedAt;
    // Entries from before the pruning cut-off are gone: the value before the oldest left is known, its start is not.
    const whole = created !== null && (prunedBefore === null || created >= prunedBefore);
    steps.unshift({
      seq: null, at: whole ? created : null, rule: 'create', side: await createdOn(store, entity, record),
      value: first ? first.oldValue : current, oldValue: null, collision: null, accountId: null,
      detail: whole
        ? 'the value the record was created with'
        : 'the value held before the first step kept (earlier history was pruned, or predates field history)',
    });
  }
  return { entity: entity.name, id, field, current, steps, next: typeof found.next === 'number' ? found.next : found.next === null ? null : Number(found.next) };
}

/**
 * Where a record was created: locally for a person without a CRM id, or one whose first activity is
 * a local New Person (created through the API, then in the CRM, R14); otherwise from the CRM.
 */
async function createdOn(store: SyncStore, entity: EntityDefinition, record: LocalRecord): Promise<'crm' | 'local'> {
  if (record.crmId === null) return 'local';
  if (entity.kind !== 'person') return 'crm';
  const [first] = (await store.listActivities({ entity: entity.name, recordId: record.id, limit: 1 })).items;
  return first?.type === 'new-person' && first.source === 'local' ? 'local' : 'crm';
}

/**
 * Retention: removes field history entries older than `retentionDays` from now and records the
 * cut-off (the history of older records then says its start was pruned). Returns the entries removed.
 */
export async function pruneFieldHistory(store: SyncStore, now: Date, retentionDays: number): Promise<number> {
  if (!store.pruneFieldHistory) return 0;
  const before = new Date(now.getTime() - retentionDays * 86_400_000).toISOString();
  const removed = await store.pruneFieldHistory(before);
  await store.commit({ entity: '*', state: { [HISTORY_PRUNED_BEFORE]: before } });
  return removed;
}
