import { randomUUID } from 'node:crypto';
import { createEntityRegistry, isSyncError } from '@crm-sync/core';
import type { ChangePage, CrmAdapter, CrmRecord, EntityDefinition, FieldMap, SyncError, SyncErrorCode } from '@crm-sync/core';
import { expect } from 'vitest';
import type { TestContext as VitestContext } from 'vitest';
import type { AdapterFactory, AdapterUnderTest } from './types.js';

/** Rows per page the suite asks for: a handful of rows makes several pages. */
export const PAGE_SIZE = 3;

const registry = createEntityRegistry();
/** A two-way entity (a person: pushed and created in the CRM). */
export const lead: EntityDefinition = registry.get('lead');
/** A one-way entity (never written to the CRM, R1 and R5). */
export const account: EntityDefinition = registry.get('account');

/** The CRM under test, with what the suite learnt of it. */
export interface Crm extends AdapterUnderTest {
  /** Text fields of `lead` the sync user can read and update, as `describeEntity` lists them (two or more). */
  fields: string[];
}

export interface KitContext {
  /** Runs `fn` with a fresh adapter and CRM and closes them afterwards. */
  withCrm(fn: (crm: Crm) => Promise<void>): Promise<void>;
}

/** One conformance test: vitest's context is passed in for typed skips (`t.skip(reason)`). */
export type KitTest = (t: VitestContext) => Promise<void>;

export function createKitContext(factory: AdapterFactory): KitContext {
  return {
    async withCrm(fn) {
      const under = await factory({ pageSize: PAGE_SIZE });
      try {
        await fn({ ...under, fields: await writableTextFields(under.adapter) });
      } finally {
        await under.adapter.close?.();
        await under.cleanup?.();
      }
    },
  };
}

/** Required text fields first (a create must set them), then the others, three at most. */
async function writableTextFields(adapter: CrmAdapter): Promise<string[]> {
  const schema = await adapter.describeEntity(lead);
  const usable = schema.fields.filter((f) => f.valueKind === 'text' && f.canRead && f.canUpdate && !f.primaryKey && !f.systemMaintained && !f.secured);
  const fields = [...usable.filter((f) => f.required), ...usable.filter((f) => !f.required)].slice(0, 3).map((f) => f.name);
  if (fields.length < 2) {
    throw new Error(
      `[adapter-testkit] describeEntity(lead) lists ${fields.length} text field(s) the sync user can read and update (${fields.join(', ') || 'none'}); the suite needs two`,
    );
  }
  return fields;
}

/** A fresh id in the CRM's id format (GUID, as the contract says). */
export const newId = (): string => randomUUID();

let counter = 0;
/** Values for every kit field, unique per call. */
export function values(fields: readonly string[], tag = 'v'): FieldMap {
  counter += 1;
  return Object.fromEntries(fields.map((f, i) => [f, `${tag}${counter}-${i}`]));
}

/** Inserts `count` lead rows as another user; returns them by id. */
export async function seed(crm: Crm, count: number): Promise<Map<string, FieldMap>> {
  const rows = new Map<string, FieldMap>();
  for (let i = 0; i < count; i++) {
    const id = newId();
    const fields = values(crm.fields, 'seed');
    await crm.control.insert(lead.name, id, fields);
    rows.set(id, fields);
  }
  return rows;
}

export interface Pulled {
  pages: ChangePage[];
  /** The last page's checkpoint (the one given when no page came). */
  checkpoint: string | null;
  /** The last version of each row handed out, by id. */
  rows: Map<string, CrmRecord>;
  deletes: string[];
  rejected: ChangePage['rejected'];
}

/** Runs a pull to its end. */
export async function pullAll(adapter: CrmAdapter, entity: EntityDefinition, fields: readonly string[], checkpoint: string | null, signal?: AbortSignal): Promise<Pulled> {
  const pages: ChangePage[] = [];
  for await (const page of adapter.pullChanges(entity, { checkpoint, fields, ...(signal ? { signal } : {}) })) pages.push(page);
  const rows = new Map<string, CrmRecord>();
  for (const page of pages) for (const row of page.upserts) rows.set(row.id, row);
  return {
    pages,
    checkpoint: pages.at(-1)?.checkpoint ?? checkpoint,
    rows,
    deletes: pages.flatMap((p) => p.deletes),
    rejected: pages.flatMap((p) => p.rejected),
  };
}

/** Every row of a `readAll`, by id, and its rejected rows. */
export async function readAllRows(adapter: CrmAdapter, entity: EntityDefinition, fields: readonly string[]) {
  const rows = new Map<string, CrmRecord>();
  const rejected: ChangePage['rejected'] = [];
  let pages = 0;
  for await (const page of adapter.readAll(entity, { fields })) {
    pages += 1;
    for (const row of page.rows) rows.set(row.id, row);
    rejected.push(...page.rejected);
  }
  return { rows, rejected, pages };
}

/** The values of `fields` in a record (or a row read through the control). */
export function pick(fields: FieldMap | undefined | null, names: readonly string[]): FieldMap {
  const out: FieldMap = {};
  for (const name of names) out[name] = fields?.[name] ?? null;
  return out;
}

/**
 * A read of the table that accounts for every row: a complete snapshot (every page of one full read)
 * or changes only. A delete is lost silently when neither lists it as a delete nor leaves it out of
 * a complete snapshot.
 */
export function snapshotOf(pulled: Pulled): { id: string; complete: boolean } | null {
  const ids = new Set(pulled.pages.map((p) => p.snapshot?.id ?? null));
  if (ids.size !== 1 || ids.has(null)) return null;
  return pulled.pages.at(-1)?.snapshot ?? null;
}

/** The id was deleted in the CRM and this read says so: a delete, or a complete snapshot without it. */
export function accountsForDelete(pulled: Pulled, id: string): boolean {
  if (pulled.deletes.includes(id)) return true;
  const snapshot = snapshotOf(pulled);
  return snapshot?.complete === true && !pulled.rows.has(id);
}

/** The error a call fails with; fails the test when it succeeds. */
export async function rejection(call: () => Promise<unknown>): Promise<unknown> {
  try {
    await call();
  } catch (error) {
    return error;
  }
  throw new Error('[adapter-testkit] expected the call to fail, but it succeeded');
}

/** Asserts a coded SyncError (core's error type), with the message naming `mentions`. */
export function expectSyncError(error: unknown, code: SyncErrorCode, ...mentions: string[]): asserts error is SyncError {
  expect(isSyncError(error), `expected a SyncError ${code}, got ${String(error)}`).toBe(true);
  expect((error as SyncError).code).toBe(code);
  for (const text of mentions) expect((error as SyncError).message).toContain(text);
}

/** The current values of `fields` of a row, through the control. */
export async function crmValues(crm: Crm, id: string, fields: readonly string[] = crm.fields): Promise<FieldMap | null> {
  const row = await crm.control.read(lead.name, id);
  return row === null ? null : pick(row, fields);
}
