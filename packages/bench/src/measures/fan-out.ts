/**
 * Item 6: a CRM change on an account fans out to its contacts set-wise. A change on the account
 * with the most contacts against one on an account with 5,000 (which, at the threshold, logs a
 * Change Data Value activity per contact): cycle duration and SQL statements the store sent.
 */
import type { Pool } from 'pg';
import type { Figure, Run } from '../lib/figure.js';
import { makeFigure } from '../lib/figure.js';
import { log } from '../lib/log.js';
import type { StatementLog } from '../lib/postgres.js';
import { runCycleChecked } from '../lib/wiring.js';
import type { SyncedTable } from './changes.js';

export async function measureFanOut(options: {
  table: SyncedTable;
  pool: Pool;
  statements: StatementLog;
  schema: string;
  runs: number;
}): Promise<Figure[]> {
  const { table, pool, statements, schema } = options;
  const { sim, engine } = table;
  const byContacts = [...sim.dataset.largeAccounts].sort((a, b) => b.contacts - a.contacts);
  const big = byContacts[0];
  const small = byContacts.find((a) => a.contacts === 5000) ?? byContacts.at(-1);
  if (!big || !small || big === small) throw new Error('the simulator needs two large accounts');
  const staff = await sim.control.staffUser();
  // Contacts the sync filter (R11) keeps out are not in the store: count what the fan-out touches.
  const synced = await syncedContacts(pool, schema, [big.id, small.id]);
  const activities = async () => Number((await pool.query<{ n: string }>(`select count(*) as n from "${schema}".activities`)).rows[0]?.n ?? 0);

  const change = async (account: { id: string; contacts: number }, run: number) => {
    await sim.control.updateRow('account', account.id, { name: `Renamed in run ${run}`, telephone1: `+1 555 01${run}` }, staff);
    await sim.control.resetLimits(); // a fresh x-ms-ratelimit window (limits are off)
    const logged = await activities();
    statements.reset();
    const cycle = await runCycleChecked(engine);
    const sent = statements.total();
    return { ms: cycle.ms, statements: sent, activities: (await activities()) - logged };
  };

  const durations: Run[] = [];
  const counts: Run[] = [];
  let logged = { big: 0, small: 0 };
  for (let run = 1; run <= options.runs; run += 1) {
    const first = run % 2 === 1;
    const smallFirst = first ? await change(small, run) : null;
    const bigChange = await change(big, run);
    const smallChange = smallFirst ?? (await change(small, run));
    durations.push({ value: bigChange.ms, reference: smallChange.ms });
    counts.push({ value: bigChange.statements, reference: smallChange.statements });
    logged = { big: bigChange.activities, small: smallChange.activities };
    log(
      `  run ${run}: ${big.contacts} contacts ${Math.round(bigChange.ms)} ms / ${bigChange.statements} statements / ${bigChange.activities} activities; ` +
        `${small.contacts} contacts ${Math.round(smallChange.ms)} ms / ${smallChange.statements} statements / ${smallChange.activities} activities`,
    );
  }
  const n = (x: number) => x.toLocaleString('en-US');
  const label = (a: { id: string; contacts: number }) => `${n(a.contacts)} contacts (${n(synced.get(a.id) ?? 0)} synced)`;
  return [
    makeFigure({
      key: 'fan-out.duration', item: 6, label: `CRM change on an account with ${label(big)}: cycle duration`, unit: 'ms',
      reference: { label: `account with ${label(small)}, activities logged`, unit: 'ms' }, runs: durations,
      note: `activities logged per change (2 fields): ${n(logged.big)} for ${n(big.contacts)} contacts (over the 5,000 threshold), ${n(logged.small)} for ${n(small.contacts)}`,
    }),
    makeFigure({
      key: 'fan-out.statements', item: 6, label: `CRM change on an account with ${label(big)}: SQL statements in the cycle`, unit: 'statements',
      reference: { label: `account with ${label(small)}`, unit: 'statements' }, target: 'independent of the number of contacts',
      // Logging activities is one more statement (INSERT ... SELECT), whatever the number of contacts.
      runs: counts, met: ({ value, reference }) => value <= reference,
    }),
  ];
}

async function syncedContacts(pool: Pool, schema: string, accountIds: string[]): Promise<Map<string, number>> {
  const { rows } = await pool.query<{ account_id: string; n: string }>(
    `select account_id, count(*) as n from "${schema}".records where entity = 'contact' and account_id = any($1::text[]) group by account_id`,
    [accountIds],
  );
  return new Map(rows.map((r) => [r.account_id, Number(r.n)]));
}
