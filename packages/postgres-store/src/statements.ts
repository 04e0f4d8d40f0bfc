import { RECORD_COLUMNS } from './rows.js';
import { statement } from './sql.js';

/**
 * The statements of a store on schema `s` (quoted). Every commit writes its records, checkpoint,
 * engine state and log rows in one statement from JSON arrays (set-wise, no statement per row), and
 * account fan-outs in two more, whatever the number of contacts.
 */
export function storeStatements(s: string) {
  // What both batch statements write besides the records: checkpoint, state and the logs.
  // $1 now, $3 entity, $4 checkpoint, $5 checkpoint given, $6 state, $7 activities (activityRow),
  // $8 collisions, $9 quarantine entries, $10 quarantine ids resolved, $11 ids of records whose
  // New Person activity (from the CRM) is all $7 would say (newPersonIds), in its stead, $12 the
  // direction of the entries resolved (null: both), $13 field history entries (historyRow).
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
history_added as (
  insert into ${s}.field_history (entity, record_id, field, rule, side, old_value, value, collision, detail, at)
  select h->>0, h->>1, h->>2, h->>3, h->>4, coalesce(h->5, 'null'), coalesce(h->6, 'null'), nullif(h->7, 'null'), h->>8, $1
  from jsonb_array_elements($13::jsonb) with ordinality as t(h, n) order by n
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
       + (select count(*) from quarantine_resolved) + (select count(*) from quarantine_added) + (select count(*) from history_added)`;

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
  insert into ${s}.records (${RECORD_COLUMNS}, created_at)
  select $3, i.id, i.e->>'crmId', i.e->>'crmVersion', 1,
         coalesce(i.e->'fields', '{}'), coalesce(i.e->'base', case when i.e ? 'baseIsFields' then i.e->'fields' end, '{}'),
         coalesce(array(select jsonb_array_elements_text(i.e->'pending')), '{}'),
         i.e->>'accountId', coalesce(i.account_fields, i.e->'company', '{}'),
         coalesce((i.e->>'crmDeleted')::boolean, false), coalesce((i.e->>'syncToCrm')::boolean, false),
         i.e->>'seenIn', $1, $1
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
  insert into ${s}.records (${RECORD_COLUMNS}, created_at)
  select $3, e->>0, e->>1, e->>2, 1,
         coalesce(nullif(e->3, 'null'), '{}'),
         case when e->4 = 'true' then coalesce(nullif(e->3, 'null'), '{}') else coalesce(nullif(e->4, 'null'), '{}') end,
         coalesce(array(select jsonb_array_elements_text(nullif(e->5, 'null'))), '{}'),
         e->>6,
         case when jsonb_typeof(e->7) <> 'null' then coalesce(a.fields, '{}') else coalesce(nullif(e->8, 'null'), '{}') end,
         coalesce((e->>9)::boolean, false), coalesce((e->>10)::boolean, false), e->>11, $1, $1
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
  // The update, and in the same statement the fan-outs' history: one entry per fan-out and key, for
  // the account (joined to its records on read), never one per record.
  const fanOutUpdateSql = `
with history_added as (
  insert into ${s}.field_history (entity, account_id, field, rule, side, old_value, value, detail, at)
  select f.entity, f."accountId", hf.field, 'fan-out', f.history->>'side',
         coalesce(f.history->'oldValues'->hf.key, 'null'), coalesce(f.company->hf.key, 'null'), f.history->>'detail', $1
  from jsonb_to_recordset($2::jsonb) as f(entity text, "accountId" text, company jsonb, history jsonb)
  cross join lateral jsonb_each_text(f.history->'fields') as hf(key, field)
  where f.history is not null
  order by f.entity, f."accountId", hf.key
  returning 1
)
update ${s}.records r set company = r.company || f.company, revision = r.revision + 1, updated_at = $1
from jsonb_to_recordset($2::jsonb) as f(entity text, "accountId" text, company jsonb)
where r.entity = f.entity and r.account_id = f."accountId"`;

  // Local deletes: each record only at the revision it was read at.
  const deleteRecordsSql = `
delete from ${s}.records r using jsonb_to_recordset($2::jsonb) as d(id text, "expectedRevision" bigint)
where r.entity = $1 and r.id = d.id and r.revision = d."expectedRevision"
returning r.id`;

  return {
    insertBatch: statement(insertBatchSql),
    writeBatch: statement(writeBatchSql),
    recordsById: statement(`select r.* from unnest($2::text[]) as k(id)
     cross join lateral (select ${RECORD_COLUMNS} from ${s}.records where entity = $1 and id = k.id) as r`),
    recordsByCrmId: statement(`select r.* from unnest($2::text[]) as k(crm_id)
     cross join lateral (select ${RECORD_COLUMNS} from ${s}.records where entity = $1 and crm_id = k.crm_id limit 1) as r`),
    fanOutActivitiesSql,
    fanOutUpdateSql,
    deleteRecordsSql,
  };
}
