import type { ChangePage, CrmRecord, EntityDefinition, RejectedRow } from '@crm-sync/core';
import { encodeCheckpoint } from './checkpoint.js';
import type { Checkpoint } from './checkpoint.js';
import { parseRow } from './odata/parse.js';
import type { RowSpec } from './odata/parse.js';
import type { EntityMetadata } from './odata/types.js';

/** Everything one pull needs to build URLs and read rows. */
export interface Plan {
  entity: EntityDefinition;
  meta: EntityMetadata;
  spec: RowSpec;
  /** Requested fields that cannot be selected (not valid for read): always null. */
  nullFields: string[];
  select: string[];
  /** Requested fields, sorted: a checkpoint taken with other fields cannot reuse its links. */
  fields: string[];
  signal: AbortSignal | undefined;
}

export interface Converted {
  upserts: CrmRecord[];
  deletes: string[];
  rejected: RejectedRow[];
  /** Records missing a selected property (a link that did not honour our $select); counted on request only. */
  partial: number;
  /**
   * Ids of records missing a requested column: they are in `rejected` (a value not sent is never
   * read as null) until read again by id (the puller's fill).
   */
  incomplete: string[];
  /** modifiedon of every row read, rejected rows included (the watermark moves past them too); with `stamps` only. */
  stamps: Array<{ id: string; version: string; modifiedOn: string; record: boolean }>;
}

export interface ConvertOptions {
  /** Count records missing a selected property (a rewritten link). */
  checkSelect?: boolean;
  /** Collect `stamps` (watermark reads). */
  stamps?: boolean;
}

export const sameFields = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((f, i) => f === b[i]);

export function convert(plan: Plan, rows: readonly unknown[], options: ConvertOptions = {}): Converted {
  const { checkSelect = false, stamps = false } = options;
  const out: Converted = { upserts: [], deletes: [], rejected: [], partial: 0, incomplete: [], stamps: [] };
  for (const raw of rows) {
    const parsed = parseRow(raw, plan.spec);
    if (parsed.kind === 'deleted') out.deletes.push(parsed.id);
    else if (parsed.kind === 'rejected') {
      out.rejected.push(parsed.row);
      const modifiedOn = (raw as { modifiedon?: unknown } | null)?.modifiedon;
      if (stamps && parsed.row.id && typeof modifiedOn === 'string' && !Number.isNaN(Date.parse(modifiedOn))) {
        out.stamps.push({ id: parsed.row.id, version: '', modifiedOn, record: false });
      }
    } else {
      for (const field of plan.nullFields) parsed.record.fields[field] = null;
      if (parsed.absent.length > 0) {
        out.rejected.push({ id: parsed.record.id, reason: `the CRM did not return ${parsed.absent.join(', ')} (not selected by the link it answered)`, raw });
        out.incomplete.push(parsed.record.id);
      } else out.upserts.push(parsed.record);
      if (checkSelect && plan.select.some((property) => !(property in (raw as Record<string, unknown>)))) out.partial += 1;
      if (stamps && parsed.record.modifiedOn && !Number.isNaN(Date.parse(parsed.record.modifiedOn))) {
        out.stamps.push({ id: parsed.record.id, version: parsed.record.version, modifiedOn: parsed.record.modifiedOn, record: true });
      }
    }
  }
  return out;
}

export const pageOf = (rows: Pick<Converted, 'upserts' | 'deletes' | 'rejected'>, checkpoint: Checkpoint, snapshot: ChangePage['snapshot']): ChangePage => ({
  upserts: rows.upserts,
  deletes: rows.deletes,
  rejected: rows.rejected,
  checkpoint: encodeCheckpoint(checkpoint),
  snapshot,
});
