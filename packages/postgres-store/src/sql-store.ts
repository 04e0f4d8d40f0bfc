import type { Activity, Collision, FieldHistoryEntry, QuarantineEntry, StoreBatch, StoreDriver, SyncStore, WriteContext } from '@crm-sync/core';
import { defineStore, isSyncError, SyncError } from '@crm-sync/core';
import { activityRow, historyRow, json, newPersonIds, newRecordRow, pageOf, RECORD_COLUMNS, slim, toRecord } from './rows.js';
import type { RecordRow } from './rows.js';
import type { SqlDriver, SqlSession, SqlStatement } from './sql.js';
import { quoteIdent, unavailable } from './sql.js';
import { storeStatements } from './statements.js';

export interface SqlStoreOptions {
  /** Schema holding the tables (default `crm_sync`); one schema per organization. */
  schema?: string;
}

/**
 * A SyncStore on PostgreSQL through a driver: a node-postgres pool or PGlite in this process run the
 * same SQL and the same migrations. Every commit is one transaction (see storeStatements). Leases
 * are offered when the driver's capabilities say so.
 */
export function createSqlStore(driver: SqlDriver, options: SqlStoreOptions = {}): SyncStore {
  const s = quoteIdent(options.schema ?? 'crm_sync');
  const { insertBatch, writeBatch, recordsById, recordsByCrmId, fanOutActivitiesSql, fanOutUpdateSql, deleteRecordsSql } = storeStatements(s);
  const name = driver.name;

  async function query<R>(statement: string | SqlStatement, values: unknown[] = []): Promise<R[]> {
    try {
      return (await driver.query<R>(statement, values)).rows;
    } catch (error) {
      throw unavailable(name, error);
    }
  }

  async function inTransaction<T>(work: (tx: SqlSession) => Promise<T>): Promise<T> {
    try {
      return await driver.transaction(work);
    } catch (error) {
      throw error instanceof SyncError ? error : unavailable(name, error);
    }
  }

  const reads: Omit<StoreDriver, 'name' | 'capabilities' | 'write' | 'writesAhead' | 'acquireLease' | 'releaseLease' | 'close'> = {
    async getCheckpoint(entity) {
      const rows = await query<{ checkpoint: string }>(`select checkpoint from ${s}.checkpoints where entity = $1`, [entity]);
      return rows[0]?.checkpoint ?? null;
    },

    async getState(key) {
      const rows = await query<{ value: string }>(`select value from ${s}.state where key = $1`, [key]);
      return rows[0]?.value ?? null;
    },

    async listState(prefix) {
      // left(), not LIKE: a prefix holding % or _ means itself.
      const rows = await query<{ key: string; value: string }>(`select key, value from ${s}.state where left(key, length($1)) = $1`, [prefix]);
      return Object.fromEntries(rows.map((r) => [r.key, r.value]));
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

    async listFieldHistory(q) {
      // The record's own entries, and the fan-out entries of its account since it was created and
      // since its last account-link entry (each probe on an index of its own).
      const rows = await query<{
        seq: string; at: Date; entity: string; record_id: string | null; account_id: string | null; field: string;
        rule: FieldHistoryEntry['rule']; side: FieldHistoryEntry['side']; old_value: FieldHistoryEntry['oldValue'];
        value: FieldHistoryEntry['value']; collision: FieldHistoryEntry['collision']; detail: string | null; created_at: Date | null;
      }>(
        `with r as (select account_id, created_at from ${s}.records where entity = $1 and id = $2),
         linked as (select max(seq) as seq from ${s}.field_history where entity = $1 and record_id = $2 and rule = 'account-link')
         select h.*, (select created_at from r) as created_at from (
           select * from ${s}.field_history
           where entity = $1 and record_id = $2 and field = $3 and ($4::bigint is null or seq > $4)
           union all
           select h.* from ${s}.field_history h, r
           where h.entity = $1 and h.record_id is null and h.account_id = r.account_id and h.field = $3
             and ($4::bigint is null or h.seq > $4) and h.seq > coalesce((select seq from linked), 0)
             and (r.created_at is null or h.at >= r.created_at)
         ) h order by h.seq limit $5`,
        [q.entity, q.recordId, q.field, q.after ?? null, q.limit + 1],
      );
      const items: FieldHistoryEntry[] = rows.map((r) => ({
        seq: Number(r.seq), at: r.at.toISOString(), entity: r.entity, recordId: r.record_id, accountId: r.account_id, field: r.field,
        rule: r.rule, side: r.side, oldValue: r.old_value, value: r.value, collision: r.collision, detail: r.detail,
      }));
      let created = rows[0]?.created_at;
      if (rows.length === 0) {
        created = (await query<{ created_at: Date | null }>(`select created_at from ${s}.records where entity = $1 and id = $2`, [q.entity, q.recordId]))[0]?.created_at;
      }
      return { ...pageOf(items, q.limit, (e) => e.seq), recordCreatedAt: created ? created.toISOString() : null };
    },

    async pruneFieldHistory(before) {
      const rows = await query<{ n: string }>(
        `with gone as (delete from ${s}.field_history where at < $1 returning 1) select count(*) as n from gone`,
        [before],
      );
      return Number(rows[0]?.n ?? 0);
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
  };

  const leases: Pick<StoreDriver, 'acquireLease' | 'releaseLease' | 'leaseOwners'> = {
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

    async leaseOwners() {
      const rows = await query<{ owner: string }>(`select distinct owner from ${s}.leases where expires_at > now() order by owner`, []);
      return rows.map((r) => r.owner);
    },
  };

  return defineStore({
    name,
    capabilities: driver.capabilities,
    // New records of a chained page are inserted before the commit it follows is written (unseen
    // until this one commits): only where transactions run at once on connections of their own.
    writesAhead: driver.concurrentTransactions,

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
        json((batch.history ?? []).map(historyRow)),
      ];
      const noExtras = [batch.entity, null, false, '{}', '[]', '[]', '[]', '[]', [], null, '[]'];
      const checkLease = async (client: SqlSession) => {
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
            await client.query(insertBatch, [now, rows, ...noExtras]);
            await context.turn;
            await checkLease(client);
            await client.query(insertBatch, [now, '[]', ...extras]);
          } else {
            await checkLease(client);
            await client.query(insertBatch, [now, rows, ...extras]);
          }
        } else {
          if (context.turn) await context.turn;
          await checkLease(client);
          // Counts and the ids not written (none, normally), not every id written: 5,000 ids parsed back per page cost the runner CPU.
          const result = await client.query<{ written: string | number; stale: string[] }>(writeBatch, [now, json(records.map(slim)), ...extras]);
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

    ...reads,
    ...(driver.capabilities.leases ? leases : {}),
    close: async () => driver.close?.(),
  });
}
