import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { SyncError } from '@crm-sync/core';
import { migrate, migrations } from './migrations.js';
import type { SqlDriver, SqlResult, SqlSession } from './sql.js';
import { quoteIdent } from './sql.js';

/**
 * A store's data as JSON lines, to move it between drivers (the embedded store to a PostgreSQL
 * server, and back): a header line, one line per row (`{"table":"records","row":{...}}`, the row as
 * PostgreSQL's `to_jsonb` writes it, so every column comes back as it was), and an end line with the
 * row counts, so a cut-off file is refused instead of half imported. Lines stream, so a file of
 * millions of records never sits in memory; any text tool can read or filter it. Leases are left
 * out: they belong to runners of the source, not to its data.
 */
export const EXPORT_FORMAT = 'crm-sync-data';
const VERSION = 1;

const TABLES = [
  { name: 'records', key: ['entity', 'id'], types: ['text', 'text'] },
  { name: 'checkpoints', key: ['entity'], types: ['text'] },
  { name: 'state', key: ['key'], types: ['text'] },
  { name: 'activities', key: ['seq'], types: ['bigint'] },
  { name: 'collisions', key: ['seq'], types: ['bigint'] },
  { name: 'quarantine', key: ['seq'], types: ['bigint'] },
  { name: 'field_history', key: ['seq'], types: ['bigint'] },
] as const;
type TableName = (typeof TABLES)[number]['name'];
export type TransferCounts = Record<TableName, number>;

/** Where data comes from or goes: a driver and a schema (an `EmbeddedStore` is one). */
export interface TransferLocation {
  driver: SqlDriver;
  schema?: string;
}

const PAGE = 2_000;
const latestVersion = Math.max(...migrations.map((m) => m.version));
const zero = (): TransferCounts => ({ records: 0, checkpoints: 0, state: 0, activities: 0, collisions: 0, quarantine: 0, field_history: 0 });

function invalid(message: string): SyncError {
  return new SyncError('CONFIG_INVALID', `[postgres-store] ${message}`, { details: { issues: [message] } });
}

async function write(out: NodeJS.WritableStream, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain');
}

/** Writes every row of the location's schema to `out` as JSON lines, from one consistent snapshot. */
export async function exportData(from: TransferLocation, out: NodeJS.WritableStream): Promise<TransferCounts> {
  const s = quoteIdent(from.schema ?? 'crm_sync');
  const counts = zero();
  await from.driver.transaction(async (tx) => {
    await tx.exec('set transaction isolation level repeatable read, read only');
    // Times in UTC whatever the session's zone: the same data exports to the same lines everywhere.
    await tx.exec("set local timezone = 'UTC'");
    await write(out, `${JSON.stringify({ format: EXPORT_FORMAT, version: VERSION, schemaVersion: latestVersion, exportedAt: new Date().toISOString() })}\n`);
    for (const table of TABLES) {
      const key = table.key.join(', ');
      const after = table.key.map((_, i) => `$${i + 2}::${table.types[i]}`).join(', ');
      const sql = `select to_jsonb(t) as row from ${s}.${table.name} t
        where $1::boolean or (${key}) > (${after}) order by ${key} limit ${PAGE}`;
      let last: unknown[] | null = null;
      for (;;) {
        const page: SqlResult<{ row: Record<string, unknown> }> = await tx.query(sql, [last === null, ...(last ?? table.key.map(() => null))]);
        const rows = page.rows;
        if (rows.length === 0) break;
        await write(out, rows.map((r) => `${JSON.stringify({ table: table.name, row: r.row })}\n`).join(''));
        counts[table.name] += rows.length;
        const lastRow: Record<string, unknown> = (rows[rows.length - 1] as { row: Record<string, unknown> }).row;
        last = table.key.map((k) => lastRow[k]);
        if (rows.length < PAGE) break;
      }
    }
    await write(out, `${JSON.stringify({ end: true, rows: counts })}\n`);
  });
  return counts;
}

/**
 * Reads an export into the location's schema (migrated first), in one transaction: all of it or,
 * when the file is cut off, damaged or the schema already holds data, nothing (CONFIG_INVALID).
 * Activity, collision and quarantine numbers are kept, and their sequences continue after them.
 */
export async function importData(into: TransferLocation, input: NodeJS.ReadableStream): Promise<TransferCounts> {
  const schema = into.schema ?? 'crm_sync';
  const s = quoteIdent(schema);
  await migrate(into.driver, schema);
  return into.driver.transaction(async (tx) => {
    const { rows: [taken] } = await tx.query<{ n: number | string }>(
      `select ${TABLES.map((t) => `(select count(*) from (select 1 from ${s}.${t.name} limit 1) x)`).join(' + ')} as n`,
    );
    if (Number(taken?.n ?? 0) > 0) throw invalid(`schema ${schema} already holds data: import into a new or empty schema`);
    const counts = zero();
    const known = new Set<string>(TABLES.map((t) => t.name));
    // Rows of one table, inserted a page at a time.
    const pending: { table: TableName | null; rows: unknown[] } = { table: null, rows: [] };
    const flush = async (session: SqlSession) => {
      const { table, rows } = pending;
      if (table === null || rows.length === 0) return;
      await session.query(`insert into ${s}.${table} select * from jsonb_populate_recordset(null::${s}.${table}, $1::jsonb)`, [JSON.stringify(rows)]);
      counts[table] += rows.length;
      pending.rows = [];
    };
    let header = false;
    let end: { rows?: Partial<TransferCounts> } | null = null;
    let lineNo = 0;
    for await (const line of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })) {
      lineNo += 1;
      if (line.trim() === '') continue;
      if (end) throw invalid(`line ${lineNo}: data after the end line`);
      let parsed: { format?: unknown; version?: unknown; table?: unknown; row?: unknown; end?: unknown; rows?: Partial<TransferCounts> };
      try {
        parsed = JSON.parse(line) as typeof parsed;
      } catch {
        throw invalid(`line ${lineNo} is not JSON: ${line.slice(0, 80)}`);
      }
      if (!header) {
        if (parsed.format !== EXPORT_FORMAT || parsed.version !== VERSION) {
          throw invalid(`line 1 is no ${EXPORT_FORMAT} header of version ${VERSION}: ${line.slice(0, 120)}`);
        }
        header = true;
      } else if (parsed.end === true) {
        await flush(tx);
        end = parsed;
      } else if (typeof parsed.table === 'string' && known.has(parsed.table) && typeof parsed.row === 'object' && parsed.row !== null) {
        const table = parsed.table as TableName;
        if (pending.table !== table) {
          await flush(tx);
          pending.table = table;
        }
        pending.rows.push(parsed.row);
        if (pending.rows.length >= PAGE) await flush(tx);
      } else {
        throw invalid(`line ${lineNo} is no row of a known table: ${line.slice(0, 120)}`);
      }
    }
    if (!header) throw invalid('the export is empty');
    if (!end) throw invalid('the export has no end line: it was cut off; nothing imported');
    for (const t of TABLES) {
      const expected = end.rows?.[t.name] ?? 0;
      if (expected !== counts[t.name]) throw invalid(`the export's end line counts ${expected} ${t.name} rows, the file holds ${counts[t.name]}; nothing imported`);
    }
    for (const table of ['activities', 'collisions', 'quarantine', 'field_history']) {
      await tx.query(`select setval(pg_get_serial_sequence($1, 'seq'), coalesce((select max(seq) from ${s}.${table}), 0) + 1, false)`, [`${s}.${table}`]);
    }
    return counts;
  });
}
