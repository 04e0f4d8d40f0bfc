import { parseArgs } from 'node:util';
import * as z from 'zod';
import { formatIssues } from '@crm-sync/core';
import { startSimulatorServer } from '@crm-sync/dynamics-simulator';
import { EXIT, cliExit } from '../cli/io.js';
import type { CliIo } from '../cli/io.js';
import { onStopSignal } from '../cli/signals.js';

const USAGE = `Usage: crm-sync simulator [options]

Runs the standalone simulated Dataverse org (Web API, OAuth token endpoint, control API) until
Ctrl+C. Point a runner at it with {"crm": {"kind": "simulator", "url": "<its URL>"}}.

Options:
  --port <n>             Port (default 8080; 0 = any free port)
  --host <addr>          Bind address (default 127.0.0.1)
  --seed <n>             Seed of the data (default 1)
  --contacts <n>         Contacts (default 500); accounts, leads, ... follow unless given
  --accounts <n>         Accounts (default contacts / 10)
  --leads <n>            Leads (default contacts / 2)
  --opportunities <n>    Opportunities (default = accounts)
  --memberships <n>      new_membership rows (default contacts / 5)
  --large-accounts <l>   Contact counts of the first accounts, e.g. 5000,5001
  --time-scale <x>       Simulated ms per real ms (e.g. 100: a 5-minute limit window in 3 s)
  --no-limits            No service protection limits
`;

const count = z.coerce.number().int().min(0);
const optionsSchema = z.strictObject({
  port: z.coerce.number().int().min(0).max(65_535).default(8080),
  host: z.string().min(1).default('127.0.0.1'),
  seed: count.default(1),
  contacts: count.optional(),
  accounts: count.optional(),
  leads: count.optional(),
  opportunities: count.optional(),
  memberships: count.optional(),
  'large-accounts': z
    .string()
    .regex(/^\d+(,\d+)*$/, 'must be comma-separated counts, e.g. 5000,5001')
    .transform((text) => text.split(',').map(Number))
    .optional(),
  'time-scale': z.coerce.number().positive().optional(),
  'no-limits': z.boolean().default(false),
});

/** `crm-sync simulator`: the simulator's own standalone server, started from the runner's binary. */
export async function simulatorCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      seed: { type: 'string' },
      contacts: { type: 'string' },
      accounts: { type: 'string' },
      leads: { type: 'string' },
      opportunities: { type: 'string' },
      memberships: { type: 'string' },
      'large-accounts': { type: 'string' },
      'time-scale': { type: 'string' },
      'no-limits': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    io.stdout.write(USAGE);
    return EXIT.ok;
  }
  const { help: _help, ...rest } = values;
  const parsed = optionsSchema.safeParse(rest);
  if (!parsed.success) throw cliExit(EXIT.usage, `crm-sync simulator: ${formatIssues(parsed.error.issues).map((l) => `--${l}`).join('; ')}`);
  const o = parsed.data;
  const server = await startSimulatorServer({
    port: o.port,
    host: o.host,
    seed: o.seed,
    ...(o.contacts !== undefined ? { contacts: o.contacts } : {}),
    ...(o.accounts !== undefined ? { accounts: o.accounts } : {}),
    ...(o.leads !== undefined ? { leads: o.leads } : {}),
    ...(o.opportunities !== undefined ? { opportunities: o.opportunities } : {}),
    ...(o.memberships !== undefined ? { memberships: o.memberships } : {}),
    ...(o['large-accounts'] ? { largeAccounts: o['large-accounts'] } : {}),
    ...(o['time-scale'] !== undefined ? { clock: { scale: o['time-scale'] } } : {}),
    ...(o['no-limits'] ? { limits: { enabled: false } } : {}),
  });
  const { simulator } = server;
  io.stdout.write(
    [
      `Dataverse simulator listening on ${server.url}`,
      `  Web API:        ${server.webApiUrl}`,
      `  Token endpoint: ${server.tokenUrl}`,
      `  Control API:    ${server.url}/_simulator/info (credentials of the sync user are there)`,
      `  Tenant id:      ${simulator.tenantId}`,
      `  Client id:      ${simulator.credentials.clientId}`,
      `  Sync user:      ${simulator.users.sync.fullName} (${simulator.users.sync.id})`,
      `  Rows:           ${Object.entries(simulator.dataset.counts).map(([table, n]) => `${table} ${n}`).join(', ')}`,
      `Sync it with: crm-sync sync --once --config <file with {"crm":{"kind":"simulator","url":"${server.url}"}}>`,
      '',
    ].join('\n'),
  );
  await new Promise<void>((resolve) => {
    const release = onStopSignal(() => {
      release();
      resolve();
    });
  });
  await server.close();
  return EXIT.ok;
}
