import type {
  Activity,
  ActivityInput,
  Collision,
  FieldMap,
  LocalRecord,
  Page,
  QuarantineEntry,
  RecordWrite,
  StoreBatch,
  SyncStore,
  WriteContext,
} from '@crm-sync/core';
import { createHash } from 'node:crypto';
import { defineStore, isSyncError, SyncError } from '@crm-sync/core';
import pg from 'pg';
import type { Pool, PoolClient } from 'pg';
import { migrate, quoteIdent } from './migrations.js';

export interface PostgresStoreOptions {
  /** A pg Pool the caller owns (the store never ends it). */
  pool: Pool;
  /** Schema holding the tables (default `crm_sync`); one schema per organization. */
  schema?: string;
  /**
   * Longest a commit waits for a lock another transaction holds (PostgreSQL's `lock_timeout`); it
   * then fails with STORE_UNAVAILABLE and writes nothing. This bounds a wait PostgreSQL cannot see
   * as a deadlock: a chained commit (`{ after }`) waits for the one before it in the runner, not in
   * the database. Default 30,000; 0 waits as long as it takes.
   */
  lockTimeoutMs?: number;
  /**
   * Send the statements every commit and read uses as named prepared statements, parsed once per
   * connection (default true): a commit of one record takes about a third of the time. Set false
   * behind a pooler that hands each transaction another server connection without carrying prepared
   * statements over (PgBouncer in transaction mode before 1.21, or without `max_prepared_statements`).
   */
  preparedStatements?: boolean;
}

interface RecordRow {
  entity: string;
  id: string;
  crm_id: string | null;
  crm_version: string | null;
  revision: string;
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

const RECORD_COLUMNS =
  'entity, id, crm_id, crm_version, revision, fields, base, pending, account_id, company, crm_deleted, sync_to_crm, seen_in, updated_at';

function toRecord(row: RecordRow): LocalRecord {
  return {
    entity: row.entity, id: row.id, crmId: row.crm_id, crmVersion: row.crm_version, revision: Number(row.revision),
    fields: row.fields, base: row.base, pending: row.pending, accountId: row.account_id, company: row.company,
    crmDeleted: row.crm_deleted, syncToCrm: row.sync_to_crm, seenIn: row.seen_in, updatedAt: row.updated_at.toISOString(),
  };
}

function pageOf<T>(items: T[], limit: number, key: (item: T) => string | number): Page<T> {
  const more = items.length > limit;
  const kept = more ? items.slice(0, limit) : items;
  return { items: kept, next: more ? key(kept[kept.length - 1] as T) : null };
}

/** JSON for a jsonb parameter; undefined members are dropped, which the SQL reads as "not given". */
const json = (value: unknown): string => JSON.stringify(value);

/**
 * A record as the batch statement reads it. A record read from the CRM usually has its base and
 * fields as one object (nothing local differs yet): it is sent once, flagged, which spares the
 * runner and PostgreSQL a third of the JSON of an initial load.
 */
function slim(record: RecordWrite): RecordWrite | (Omit<RecordWrite, 'base'> & { baseIsFields: true }) {
  if (record.base === undefined || record.base !== record.fields) return record;
  const { base: _same, ...rest } = record;
  return { ...rest, baseIsFields: true };
}

function companyFromCell(r: RecordWrite): string | [string, string | null] | null {
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
function newRecordRow(r: RecordWrite): unknown[] {
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
function newPersonIds(batch: StoreBatch): string[] | null {
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

/** An activity by position: 0 entity, 1 recordId, 2 type, 3 source, 4 field, 5 oldValue, 6 newValue, 7 detail. */
function activityRow(a: ActivityInput): unknown[] {
  return [a.entity, a.recordId, a.type, a.source, a.field ?? null, a.oldValue ?? null, a.newValue ?? null, a.detail ?? null];
}

interface Statement {
  text: string;
  name?: string;
}

/**
 * A statement, named when prepared statements are on: each connection then parses it once instead
 * of on every call. Named by its text, so stores on other schemas sharing a pool do not collide.
 */
function statement(text: string, prepared: boolean): Statement {
  return prepared ? { name: `crm_sync_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`, text } : { text };
}

function unavailable(error: unknown): SyncError {
  const message = error instanceof Error ? error.message : String(error);
  return new SyncError('STORE_UNAVAILABLE', `[postgres-store] ${message}`, { cause: error });
}

/**
 * A SyncStore on PostgreSQL. Every commit is one transaction; the records, checkpoint, engine state
 * and log rows of a batch are written by one statement from JSON arrays (set-wise, no statement per
 * row), and account fan-outs by two more, whatever the number of contacts.
 */
export function createPostgresStore(options: PostgresStoreOptions): SyncStore {
  const { pool } = options;
  const s = quoteIdent(options.schema ?? 'crm_sync');
  const lockTimeoutMs = options.lockTimeoutMs ?? 30_000;
  if (!Number.isInteger(lockTimeoutMs) || lockTimeoutMs < 0) {
    throw new SyncError('CONFIG_INVALID', `[postgres-store] lockTimeoutMs must be a whole number of milliseconds, 0 or more (got ${String(options.lockTimeoutMs)})`, {
      details: { issues: ['lockTimeoutMs: must be a whole number of milliseconds, 0 or more'] },
    });
  }
  const preparedStatements = options.preparedStatements ?? true;
  if (typeof preparedStatements !== 'boolean') {
    throw new SyncError('CONFIG_INVALID', `[postgres-store] preparedStatements must be true or false (got ${JSON.stringify(options.preparedStatements)})`, {
      details: { issues: ['preparedStatements: must be true or false'] },
    });
  }
  // One round trip: the transaction and its lock timeout (a validated integer) in one simple query.
  const begin = lockTimeoutMs > 0 ? `begin; set local lock_timeout = ${lockTimeoutMs}` : 'begin';

  async function query<R extends pg.QueryResultRow>(statement: string | Statement, values: unknown[] = []): Promise<R[]> {
    try {
      return (await pool.query<R>(typeof statement === 'string' ? { text: statement, values } : { ...statement, values })).rows;
    } catch (error) {
      throw unavailable(error);
    }
  }

  // What both batch statements write besides the records: checkpoint, state and the logs.
  // $1 now, $3 entity, $4 checkpoint, $5 checkpoint given, $6 state, $7 activities (activityRow),
  // $8 collisions, $9 quarantine entries, $10 quarantine ids resolved, $11 ids of records whose
  // New Person activity (from the CRM) is all $7 would say (newPersonIds), in its stead, $12 the
  // direction of the entries resolved (null: both).
  const batchExtrasSql = `
checkpoint_set as (
  insert into ${s}.checkpoints (entity, checkpoint, updated_at)
  select $3, $4, $1 where $5::boolean and $4::text is not null
  on conflict (entity) do update set checkpoint = excluded.checkpoint, updated_at = excluded.updated_at
  returning 1
),
checkpoint_cleared as (
  delete from ${s}.checkpoints where $5::boolean and $4::text is null and entity = $3 returning 1
),
state_set as (
  insert into ${s}.state (key, value)
  select key, value #>> '{}' from jsonb_each($6::jsonb) where jsonb_typeof(value) <> 'null'
  on conflict (key) do update set value = excluded.value
  returning 1
),
state_cleared as (
  delete from ${s}.state where key in (select key from jsonb_each($6::jsonb) where jsonb_typeof(value) = 'null') returning 1
),
activities_added as (
  insert into ${s}.activities (entity, record_id, type, source, field, old_value, new_value, detail, at)
  select a->>0, a->>1, a->>2, a->>3, a->>4, coalesce(a->5, 'null'), coalesce(a->6, 'null'), a->>7, $1
  from jsonb_array_elements($7::jsonb) with ordinality as t(a, n) order by n
  returning 1
),
new_persons_added as (
  insert into ${s}.activities (entity, record_id, type, source, old_value, new_value, at)
  select $3, id, 'new-person', 'crm', 'null', 'null', $1
  from unnest($11::text[]) with ordinality as t(id, n) order by n
  returning 1
),
collisions_added as (
  insert into ${s}.collisions (entity, record_id, field, local_value, crm_value, winner, at)
  select c->>'entity', c->>'recordId', c->>'field', coalesce(c->'localValue', 'null'), coalesce(c->'crmValue', 'null'), c->>'winner', $1
  from jsonb_array_elements($8::jsonb) with ordinality as t(c, n) order by n
  returning 1
),
quarantine_resolved as (
  update ${s}.quarantine set resolved_at = $1
  where resolved_at is null and entity = $3 and record_id in (select jsonb_array_elements_text($10::jsonb))
    and ($12::text is null or direction = $12)
  returning 1
),
quarantine_added as (
  insert into ${s}.quarantine (entity, record_id, direction, reason, payload, at)
  select q->>'entity', q->>'recordId', q->>'direction', q->>'reason', coalesce(q->'payload', 'null'), $1
  from jsonb_array_elements($9::jsonb) with ordinality as t(q, n) order by n
  returning 1
)`;
  const extrasWritten = `(select count(*) from checkpoint_set) + (select count(*) from checkpoint_cleared) + (select count(*) from state_set)
       + (select count(*) from state_cleared) + (select count(*) from activities_added) + (select count(*) from new_persons_added)
       + (select count(*) from collisions_added)
       + (select count(*) from quarantine_resolved) + (select count(*) from quarantine_added)`;

  // One statement writes a batch's records (optimistic revisions), checkpoint, state and logs.
  // $2: the records (slim), keyed, so a key left out leaves the column as it is.
  const writeBatchSql = `
with input as (
  select e->>'id' as id, (e->>'expectedRevision')::bigint as expected, e,
         case when e ? 'companyFrom' then coalesce(a.fields, '{}') end as account_fields
  from jsonb_array_elements($2::jsonb) as e
  -- One index probe per record (limit 1): a join here could scan every record of a large table.
  left join lateral (
    select fields from ${s}.records
    where e ? 'companyFrom' and entity = e->'companyFrom'->>'entity' and crm_id = e->'companyFrom'->>'crmId' limit 1
  ) as a on true
),
updated as (
  update ${s}.records r set
    crm_id      = case when i.e ? 'crmId' then i.e->>'crmId' else r.crm_id end,
    crm_version = case when i.e ? 'crmVersion' then i.e->>'crmVersion' else r.crm_version end,
    fields      = case when i.e ? 'fields' then r.fields || (i.e->'fields') else r.fields end,
    base        = case when i.e ? 'base' then r.base || (i.e->'base') when i.e ? 'baseIsFields' then r.base || (i.e->'fields') else r.base end,
    pending     = case when i.e ? 'pending' then array(select jsonb_array_elements_text(i.e->'pending')) else r.pending end,
    account_id  = case when i.e ? 'accountId' then i.e->>'accountId' else r.account_id end,
    company     = case when i.account_fields is not null then i.account_fields
                       when i.e ? 'company' then r.company || (i.e->'company') else r.company end,
    crm_deleted = case when i.e ? 'crmDeleted' then (i.e->>'crmDeleted')::boolean else r.crm_deleted end,
    sync_to_crm = case when i.e ? 'syncToCrm' then (i.e->>'syncToCrm')::boolean else r.sync_to_crm end,
    seen_in     = case when i.e ? 'seenIn' then i.e->>'seenIn' else r.seen_in end,
    revision    = r.revision + 1,
    updated_at  = $1
  from input i
  where r.entity = $3 and r.id = i.id and i.expected > 0 and r.revision = i.expected
  returning r.id
),
inserted as (
  insert into ${s}.records (${RECORD_COLUMNS})
  select $3, i.id, i.e->>'crmId', i.e->>'crmVersion', 1,
         coalesce(i.e->'fields', '{}'), coalesce(i.e->'base', case when i.e ? 'baseIsFields' then i.e->'fields' end, '{}'),
         coalesce(array(select jsonb_array_elements_text(i.e->'pending')), '{}'),
         i.e->>'accountId', coalesce(i.account_fields, i.e->'company', '{}'),
         coalesce((i.e->>'crmDeleted')::boolean, false), coalesce((i.e->>'syncToCrm')::boolean, false),
         i.e->>'seenIn', $1
  from input i where i.expected = 0
  on conflict (entity, id) do nothing
  returning id
),
${batchExtrasSql}
select (select count(*) from updated) + (select count(*) from inserted) as written,
       array(select i.id from input i where i.id not in (select id from updated union all select id from inserted)) as stale,
       ${extrasWritten} as other_rows`;

  // A batch of new records only (every page of an initial load): a plain insert, no ON CONFLICT
  // and no update pass, from positional rows (newRecordRow). If a record exists after all, the
  // insert fails on its key and the batch goes through writeBatchSql, which names the stale ids.
  const insertBatchSql = `
with inserted as (
  insert into ${s}.records (${RECORD_COLUMNS})
  select $3, e->>0, e->>1, e->>2, 1,
         coalesce(nullif(e->3, 'null'), '{}'),
         case when e->4 = 'true' then coalesce(nullif(e->3, 'null'), '{}') else coalesce(nullif(e->4, 'null'), '{}') end,
         coalesce(array(select jsonb_array_elements_text(nullif(e->5, 'null'))), '{}'),
         e->>6,
         case when jsonb_typeof(e->7) <> 'null' then coalesce(a.fields, '{}') else coalesce(nullif(e->8, 'null'), '{}') end,
         coalesce((e->>9)::boolean, false), coalesce((e->>10)::boolean, false), e->>11, $1
  from jsonb_array_elements($2::jsonb) as e
  left join lateral (
    select fields from ${s}.records
    where jsonb_typeof(e->7) <> 'null'
      and entity = case when jsonb_typeof(e->7) = 'string' then e->>7 else e->7->>0 end
      and crm_id = case when jsonb_typeof(e->7) = 'string' then e->>6 else e->7->>1 end
    limit 1
  ) as a on true
  returning 1
),
${batchExtrasSql}
select (select count(*) from inserted) as written, ${extrasWritten} as other_rows`;

  const insertBatch = statement(insertBatchSql, preparedStatements);
  const writeBatch = statement(writeBatchSql, preparedStatements);
  const recordsById = statement(
    `select r.* from unnest($2::text[]) as k(id)
     cross join lateral (select ${RECORD_COLUMNS} from ${s}.records where entity = $1 and id = k.id) as r`,
    preparedStatements,
  );
  const recordsByCrmId = statement(
    `select r.* from unnest($2::text[]) as k(crm_id)
     cross join lateral (select ${RECORD_COLUMNS} from ${s}.records where entity = $1 and crm_id = k.crm_id limit 1) as r`,
    preparedStatements,
  );

  // Fan-out, set-wise: the activities (old values read before the update), then the update.
  const fanOutActivitiesSql = `
insert into ${s}.activities (entity, record_id, type, source, field, old_value, new_value, detail, at)
select f.entity, r.id, f.log->>'type', f.log->>'source', lf.field,
       coalesce(r.company->lf.key, 'null'), coalesce(f.company->lf.key, 'null'), f.log->>'detail', $1
from jsonb_to_recordset($2::jsonb) as f(entity text, "accountId" text, company jsonb, log jsonb)
cross join lateral jsonb_each_text(f.log->'fields') as lf(key, field)
join ${s}.records r on r.entity = f.entity and r.account_id = f."accountId"
where coalesce(r.company->lf.key, 'null') is distinct from coalesce(f.company->lf.key, 'null')
order by r.id, lf.key`;
  const fanOutUpdateSql = `
update ${s}.records r set company = r.company || f.company, revision = r.revision + 1, updated_at = $1
from jsonb_to_recordset($2::jsonb) as f(entity text, "accountId" text, company jsonb)
where r.entity = f.entity and r.account_id = f."accountId"`;

  // Local deletes: each record only at the revision it was read at.
  const deleteRecordsSql = `
delete from ${s}.records r using jsonb_to_recordset($2::jsonb) as d(id text, "expectedRevision" bigint)
where r.entity = $1 and r.id = d.id and r.revision = d."expectedRevision"
returning r.id`;

  async function inTransaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    let client: PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      throw unavailable(error);
    }
    try {
      await client.query(begin);
      const result = await work(client);
      await client.query('commit');
      return result;
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw error instanceof SyncError ? error : unavailable(error);
    } finally {
      client.release();
    }
  }

  return defineStore({
    name: 'postgres',
    capabilities: { persistent: true, sharedAcrossProcesses: true, leases: true },
    // New records of a chained page are inserted before the commit it follows is written (unseen until this one commits).
    writesAhead: true,

    async write(batch: StoreBatch, context: WriteContext) {
      const records = batch.records ?? [];
      const now = new Date();
      const newPersons = newPersonIds(batch);
      const extras = [
        batch.entity,
        batch.checkpoint ?? null,
        batch.checkpoint !== undefined,
        json(batch.state ?? {}),
        newPersons ? '[]' : json((batch.activities ?? []).map(activityRow)),
        json(batch.collisions ?? []),
        json(batch.quarantine ?? []),
        json(batch.resolveQuarantine ?? []),
        newPersons ?? [],
        batch.resolveDirection ?? null,
      ];
      const noExtras = [batch.entity, null, false, '{}', '[]', '[]', '[]', '[]', [], null];
      const checkLease = async (client: PoolClient) => {
        const { lease } = context;
        if (lease) {
          // Fencing: the row lock holds off a takeover until this transaction ends.
          const held = await client.query(
            `update ${s}.leases set expires_at = now() + $3 * interval '1 millisecond'
             where entity = $1 and owner = $2 and expires_at > now() returning 1`,
            [batch.entity, lease.owner, lease.ttlMs],
          );
          if (held.rowCount !== 1) context.leaseLost();
        }
      };
      const write = (newOnly: boolean) => inTransaction(async (client) => {
        if (newOnly) {
          const rows = json(records.map(newRecordRow));
          if (context.turn) {
            // Chained to the commit before it: the records are inserted now (the caller keeps them
            // apart from that commit's), the rest once it has committed, so the checkpoint, the
            // lease and the activities' order follow the order of the commits.
            await client.query({ ...insertBatch, values: [now, rows, ...noExtras] });
            await context.turn;
            await checkLease(client);
            await client.query({ ...insertBatch, values: [now, '[]', ...extras] });
          } else {
            await checkLease(client);
            await client.query({ ...insertBatch, values: [now, rows, ...extras] });
          }
        } else {
          if (context.turn) await context.turn;
          await checkLease(client);
          // Counts and the ids not written (none, normally), not every id written: 5,000 ids parsed back per page cost the runner CPU.
          const result = await client.query<{ written: string; stale: string[] }>({ ...writeBatch, values: [now, json(records.map(slim)), ...extras] });
          const written = Number(result.rows[0]?.written ?? 0);
          if (written !== records.length) {
            // Ids are unique in the batch (checked by defineStore), so every id short is in `stale`.
            context.conflict(result.rows[0]?.stale ?? []);
          }
        }
        const deletes = batch.deletes ?? [];
        if (deletes.length > 0) {
          const deleted = await client.query<{ id: string }>(deleteRecordsSql, [batch.entity, json(deletes)]);
          if (deleted.rowCount !== deletes.length) {
            const gone = new Set(deleted.rows.map((r) => r.id));
            context.conflict(deletes.map((d) => d.id).filter((id) => !gone.has(id)));
          }
        }
        // At most one fan-out per entity and account (checked by defineStore): one UPDATE never touches a row twice.
        const fanOuts = batch.fanOuts ?? [];
        if (fanOuts.length > 0) {
          if (fanOuts.some((f) => f.log && Object.keys(f.log.fields).length > 0)) await client.query(fanOutActivitiesSql, [now, json(fanOuts)]);
          await client.query(fanOutUpdateSql, [now, json(fanOuts)]);
        }
      });
      const newOnly = records.length > 0 && records.every((r) => r.expectedRevision === 0);
      try {
        await write(newOnly);
      } catch (error) {
        // A new record whose key is taken after all (rolled back whole): the keyed statement names the stale ids.
        if (!newOnly || !isSyncError(error, 'STORE_UNAVAILABLE') || (error.cause as { code?: string } | undefined)?.code !== '23505') throw error;
        await write(false);
      }
    },

    async getCheckpoint(entity) {
      const rows = await query<{ checkpoint: string }>(`select checkpoint from ${s}.checkpoints where entity = $1`, [entity]);
      return rows[0]?.checkpoint ?? null;
    },

    async getState(key) {
      const rows = await query<{ value: string }>(`select value from ${s}.state where key = $1`, [key]);
      return rows[0]?.value ?? null;
    },

    async getRecords(entity, ids) {
      if (ids.length === 0) return [];
      // One index probe per id: with "= any(...)" a table whose statistics lag behind (an initial
      // load) is scanned whole for every page.
      const rows = await query<RecordRow>(recordsById, [entity, [...new Set(ids)]]);
      const byId = new Map(rows.map((r) => [r.id, toRecord(r)]));
      return ids.flatMap((id) => byId.get(id) ?? []);
    },

    async getRecordsByCrmId(entity, crmIds) {
      if (crmIds.length === 0) return [];
      const rows = await query<RecordRow>(recordsByCrmId, [entity, [...new Set(crmIds)]]);
      const byCrmId = new Map(rows.map((r) => [r.crm_id, toRecord(r)]));
      return crmIds.flatMap((id) => byCrmId.get(id) ?? []);
    },

    async listRecords(entity, options) {
      const rows = await query<RecordRow>(
        `select ${RECORD_COLUMNS} from ${s}.records
         where entity = $1 and ($2::text is null or id > $2) and fields @> $3::jsonb
         order by id limit $4`,
        [entity, options.after ?? null, json(options.where ?? {}), options.limit + 1],
      );
      return pageOf(rows.map(toRecord), options.limit, (r) => r.id);
    },

    async listOutbox(entity, options) {
      const rows = await query<RecordRow>(
        `select ${RECORD_COLUMNS} from ${s}.records
         where entity = $1 and ($2::text is null or id > $2)
           and (cardinality(pending) > 0 or (sync_to_crm and crm_id is null and not crm_deleted))
         order by id limit $3`,
        [entity, options.after ?? null, options.limit + 1],
      );
      return pageOf(rows.map(toRecord), options.limit, (r) => r.id);
    },

    async listUnseen(entity, snapshotId, options) {
      const rows = await query<RecordRow>(
        `select ${RECORD_COLUMNS} from ${s}.records
         where entity = $1 and ($2::text is null or id > $2)
           and crm_id is not null and not crm_deleted and seen_in is distinct from $3
         order by id limit $4`,
        [entity, options.after ?? null, snapshotId, options.limit + 1],
      );
      return pageOf(rows.map(toRecord), options.limit, (r) => r.id);
    },

    async countByAccount(entity, accountIds) {
      if (accountIds.length === 0) return new Map();
      const rows = await query<{ account_id: string; n: string }>(
        `select k.account_id, c.n from unnest($2::text[]) as k(account_id)
         cross join lateral (select count(*) as n from ${s}.records where entity = $1 and account_id = k.account_id) as c
         where c.n > 0`,
        [entity, [...new Set(accountIds)]],
      );
      return new Map(rows.map((r) => [r.account_id, Number(r.n)]));
    },

    async listActivities(options) {
      const rows = await query<{
        seq: string; entity: string; record_id: string; type: Activity['type']; source: Activity['source'];
        field: string | null; old_value: Activity['oldValue']; new_value: Activity['newValue']; detail: string | null; at: Date;
      }>(
        `select * from ${s}.activities
         where ($1::bigint is null or seq > $1) and ($2::text is null or entity = $2) and ($3::text is null or record_id = $3)
         order by seq limit $4`,
        [options.after ?? null, options.entity ?? null, options.recordId ?? null, options.limit + 1],
      );
      const items: Activity[] = rows.map((r) => ({
        seq: Number(r.seq), entity: r.entity, recordId: r.record_id, type: r.type, source: r.source, field: r.field,
        oldValue: r.old_value, newValue: r.new_value, detail: r.detail, at: r.at.toISOString(),
      }));
      return pageOf(items, options.limit, (a) => a.seq);
    },

    async listCollisions(options) {
      const rows = await query<{
        seq: string; entity: string; record_id: string; field: string; local_value: Collision['localValue'];
        crm_value: Collision['crmValue']; winner: Collision['winner']; at: Date;
      }>(
        `select * from ${s}.collisions where ($1::bigint is null or seq > $1) and ($2::text is null or entity = $2) order by seq limit $3`,
        [options.after ?? null, options.entity ?? null, options.limit + 1],
      );
      const items: Collision[] = rows.map((r) => ({
        seq: Number(r.seq), entity: r.entity, recordId: r.record_id, field: r.field, localValue: r.local_value,
        crmValue: r.crm_value, winner: r.winner, at: r.at.toISOString(),
      }));
      return pageOf(items, options.limit, (c) => c.seq);
    },

    async listQuarantine(options) {
      const rows = await query<{
        seq: string; entity: string; record_id: string | null; direction: QuarantineEntry['direction']; reason: string;
        payload: unknown; at: Date; resolved_at: Date | null;
      }>(
        `select * from ${s}.quarantine
         where ($1::bigint is null or seq > $1) and ($2::text is null or entity = $2) and ($3::boolean or resolved_at is null)
         order by seq limit $4`,
        [options.after ?? null, options.entity ?? null, options.includeResolved ?? false, options.limit + 1],
      );
      const items: QuarantineEntry[] = rows.map((r) => ({
        seq: Number(r.seq), entity: r.entity, recordId: r.record_id, direction: r.direction, reason: r.reason,
        payload: r.payload, at: r.at.toISOString(), resolvedAt: r.resolved_at ? r.resolved_at.toISOString() : null,
      }));
      return pageOf(items, options.limit, (q) => q.seq);
    },

    async stats(entity) {
      const [row] = await query<{ records: string; pending: string; crm_deleted: string; quarantined: string }>(
        `select count(*) as records,
                count(*) filter (where cardinality(pending) > 0 or (sync_to_crm and crm_id is null and not crm_deleted)) as pending,
                count(*) filter (where crm_deleted) as crm_deleted,
                (select count(*) from ${s}.quarantine where entity = $1 and resolved_at is null) as quarantined
         from ${s}.records where entity = $1`,
        [entity],
      );
      return {
        records: Number(row?.records ?? 0), pending: Number(row?.pending ?? 0),
        crmDeleted: Number(row?.crm_deleted ?? 0), quarantined: Number(row?.quarantined ?? 0),
      };
    },

    async acquireLease(entity, lease) {
      const rows = await query(
        `insert into ${s}.leases (entity, owner, expires_at) values ($1, $2, now() + $3 * interval '1 millisecond')
         on conflict (entity) do update set owner = excluded.owner, expires_at = excluded.expires_at
         where ${s}.leases.owner = excluded.owner or ${s}.leases.expires_at <= now()
         returning owner`,
        [entity, lease.owner, lease.ttlMs],
      );
      return rows.length === 1;
    },

    async releaseLease(entity, owner) {
      await query(`delete from ${s}.leases where entity = $1 and owner = $2`, [entity, owner]);
    },
  });
}

export interface ConnectOptions {
  /** postgres://user@host:port/database */
  url: string;
  schema?: string;
  /** Pool size (default 10). */
  maxConnections?: number;
  /** See PostgresStoreOptions.lockTimeoutMs. */
  lockTimeoutMs?: number;
  /** See PostgresStoreOptions.preparedStatements. */
  preparedStatements?: boolean;
}

/**
 * Opens a pool, applies pending migrations and returns a store that ends the pool on `close()`.
 */
export async function connectPostgresStore(options: ConnectOptions): Promise<SyncStore> {
  const pool = new pg.Pool({ connectionString: options.url, max: options.maxConnections ?? 10 });
  let store: SyncStore;
  try {
    store = createPostgresStore({
      pool,
      ...(options.schema ? { schema: options.schema } : {}),
      ...(options.lockTimeoutMs !== undefined ? { lockTimeoutMs: options.lockTimeoutMs } : {}),
      ...(options.preparedStatements !== undefined ? { preparedStatements: options.preparedStatements } : {}),
    });
    await migrate(pool, options.schema ?? 'crm_sync');
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw isSyncError(error) ? error : unavailable(error);
  }
  return {
    ...store,
    async close() {
      await store.close();
      await pool.end();
    },
  };
}
