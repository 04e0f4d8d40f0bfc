import type { Pool } from 'pg';
import { poolDriver } from './pool-driver.js';
import type { SqlDriver } from './sql.js';
import { quoteIdent } from './sql.js';

/**
 * Numbered migrations, the same on a server and in PGlite, applied in order inside one transaction that holds an advisory lock, so two
 * runners starting at once cannot both migrate. `{schema}` is replaced by the quoted schema name.
 * Field values live in JSONB (`fields`, `base`, `company`): custom entities and new CRM fields need
 * no migration.
 */
export const migrations: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
create table {schema}.records (
  entity      text        not null,
  id          text        not null,
  crm_id      text,
  crm_version text,
  revision    bigint      not null,
  fields      jsonb       not null default '{}',
  base        jsonb       not null default '{}',
  pending     text[]      not null default '{}',
  account_id  text,
  company     jsonb       not null default '{}',
  crm_deleted boolean     not null default false,
  sync_to_crm boolean     not null default false,
  seen_in     text,
  updated_at  timestamptz not null,
  primary key (entity, id)
);
create unique index records_crm_id on {schema}.records (entity, crm_id) where crm_id is not null;
create index records_account on {schema}.records (entity, account_id) where account_id is not null;
create index records_outbox on {schema}.records (entity, id)
  where cardinality(pending) > 0 or (sync_to_crm and crm_id is null and not crm_deleted);

create table {schema}.checkpoints (
  entity     text primary key,
  checkpoint text        not null,
  updated_at timestamptz not null
);

create table {schema}.state (
  key   text primary key,
  value text not null
);

create table {schema}.activities (
  seq       bigserial primary key,
  entity    text        not null,
  record_id text        not null,
  type      text        not null,
  source    text        not null,
  field     text,
  old_value jsonb,
  new_value jsonb,
  detail    text,
  at        timestamptz not null
);
create index activities_record on {schema}.activities (entity, record_id, seq);

create table {schema}.collisions (
  seq         bigserial primary key,
  entity      text        not null,
  record_id   text        not null,
  field       text        not null,
  local_value jsonb,
  crm_value   jsonb,
  winner      text        not null,
  at          timestamptz not null
);

create table {schema}.quarantine (
  seq         bigserial primary key,
  entity      text        not null,
  record_id   text,
  direction   text        not null,
  reason      text        not null,
  payload     jsonb,
  at          timestamptz not null,
  resolved_at timestamptz
);
create index quarantine_open on {schema}.quarantine (entity, record_id) where resolved_at is null;
`,
  },
  {
    version: 2,
    name: 'leases for several runners',
    sql: `
create table {schema}.leases (
  entity     text primary key,
  owner      text        not null,
  expires_at timestamptz not null
);
`,
  },
  {
    version: 3,
    name: 'field history',
    // A record entry has a record_id; a fan-out entry an account_id instead (one per account, joined
    // on read). created_at: when the record was created (null for records older than this migration).
    sql: `
alter table {schema}.records add column created_at timestamptz;

create table {schema}.field_history (
  seq        bigserial primary key,
  entity     text        not null,
  record_id  text,
  account_id text,
  field      text        not null,
  rule       text        not null,
  side       text        not null,
  old_value  jsonb,
  value      jsonb,
  collision  jsonb,
  detail     text,
  at         timestamptz not null
);
create index field_history_record on {schema}.field_history (entity, record_id, field, seq) where record_id is not null;
create index field_history_account on {schema}.field_history (entity, account_id, field, seq) where record_id is null;
-- Retention deletes by time; a BRIN index stays tiny on an append-only log.
create index field_history_at on {schema}.field_history using brin (at);
`,
  },
];

/** Applies the migrations not yet applied to `schema` (a pool, or a driver: PGlite too); returns the versions it applied. */
export async function migrate(target: Pool | SqlDriver, schema: string): Promise<number[]> {
  const driver = isSqlDriver(target) ? target : poolDriver(target, { lockTimeoutMs: 0, preparedStatements: false });
  const q = quoteIdent(schema);
  return driver.transaction(async (tx) => {
    // One lock for every crm-sync migration in this database: runners migrate one at a time.
    await tx.query("select pg_advisory_xact_lock(hashtext('crm-sync:migrate'))");
    await tx.exec(`create schema if not exists ${q}`);
    await tx.exec(
      `create table if not exists ${q}.schema_migrations (version integer primary key, name text not null, applied_at timestamptz not null default now())`,
    );
    const done = new Set((await tx.query<{ version: number }>(`select version from ${q}.schema_migrations`)).rows.map((r) => r.version));
    const applied: number[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      await tx.exec(m.sql.replaceAll('{schema}', q));
      await tx.query(`insert into ${q}.schema_migrations (version, name) values ($1, $2)`, [m.version, m.name]);
      applied.push(m.version);
    }
    return applied;
  });
}

function isSqlDriver(target: Pool | SqlDriver): target is SqlDriver {
  return typeof (target as Partial<SqlDriver>).transaction === 'function';
}
