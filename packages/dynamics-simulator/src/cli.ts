#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { startSimulatorServer } from './server.js';

const usage = `Usage: crm-sync-simulator [options]

Starts a simulated Dataverse org (Web API, OAuth token endpoint, control API) on 127.0.0.1.

Options:
  --port <n>            Port (default 8080; 0 = any free port)
  --host <addr>         Bind address (default 127.0.0.1)
  --seed <n>            Seed for data, ids and faults (default 1)
  --contacts <n>        Contacts (default 500); accounts, leads, ... follow unless given
  --accounts <n>        Accounts (default contacts / 10)
  --leads <n>           Leads (default contacts / 2)
  --users <n>           System users, at least 3 (default 12)
  --teams <n>           Teams (default 4)
  --opportunities <n>   Opportunities (default = accounts)
  --memberships <n>     new_membership rows (default contacts / 5)
  --large-accounts <l>  Comma-separated contact counts of the first accounts, e.g. 5000,5001
  --time-scale <x>      Simulated ms per real ms (e.g. 100 runs a 5-minute window in 3 s)
  --no-limits           Disable service protection limits
  --web-servers <n>     Web servers, each with its own limit windows (default 1)
  --dop-hint <n>        The x-ms-dop-hint sent (default 8)
  --help                Show this text
`;

// `pnpm start -- --port 1` passes the `--` along; drop it.
const args = process.argv.slice(2).filter((arg) => arg !== '--');

const { values } = parseArgs({
  args,
  options: {
    port: { type: 'string', default: '8080' },
    host: { type: 'string', default: '127.0.0.1' },
    seed: { type: 'string', default: '1' },
    contacts: { type: 'string' },
    accounts: { type: 'string' },
    leads: { type: 'string' },
    users: { type: 'string' },
    teams: { type: 'string' },
    opportunities: { type: 'string' },
    memberships: { type: 'string' },
    'large-accounts': { type: 'string' },
    'time-scale': { type: 'string' },
    'no-limits': { type: 'boolean', default: false },
    'web-servers': { type: 'string' },
    'dop-hint': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  process.stdout.write(usage);
  process.exit(0);
}

const integer = (name: string, text: string | undefined): number | undefined => {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) {
    process.stderr.write(`--${name} must be a non-negative integer, got '${text}'\n`);
    process.exit(2);
  }
  return value;
};

const counts = Object.fromEntries(
  (['contacts', 'accounts', 'leads', 'users', 'teams', 'opportunities', 'memberships'] as const)
    .map((name) => [name, integer(name, values[name])] as const)
    .filter(([, value]) => value !== undefined),
);
const scale = values['time-scale'] === undefined ? undefined : Number(values['time-scale']);
if (scale !== undefined && !(scale > 0)) {
  process.stderr.write('--time-scale must be a positive number\n');
  process.exit(2);
}

const positive = (name: string, text: string | undefined): number | undefined => {
  const value = integer(name, text);
  if (value === 0) {
    process.stderr.write(`--${name} must be at least 1\n`);
    process.exit(2);
  }
  return value;
};
const webServers = positive('web-servers', values['web-servers']);
const dopHint = positive('dop-hint', values['dop-hint']);

const server = await startSimulatorServer({
  port: integer('port', values.port) ?? 8080,
  host: values.host,
  seed: integer('seed', values.seed) ?? 1,
  ...counts,
  ...(values['large-accounts'] ? { largeAccounts: values['large-accounts'].split(',').map((n) => integer('large-accounts', n.trim()) ?? 0) } : {}),
  ...(scale !== undefined ? { clock: { scale } } : {}),
  limits: {
    ...(values['no-limits'] ? { enabled: false } : {}),
    ...(webServers !== undefined ? { webServers } : {}),
    ...(dopHint !== undefined ? { dopHint } : {}),
  },
});

const { simulator } = server;
const lines = [
  `Dataverse simulator listening on ${server.url}`,
  `  Web API:        ${server.webApiUrl}`,
  `  Token endpoint: ${server.tokenUrl}`,
  `  Control API:    ${server.url}/_simulator/info`,
  `  Tenant id:      ${simulator.tenantId}`,
  `  Sync user:      ${simulator.users.sync.fullName} (${simulator.users.sync.id})`,
  `  Client id:      ${simulator.credentials.clientId}`,
  `  Client secret:  ${simulator.credentials.clientSecret}`,
  `  Scope:          ${server.url}/.default`,
  `  Static token:   Authorization: Bearer ${simulator.credentials.token}`,
  `  Rows:           ${Object.entries(simulator.dataset.counts).map(([table, count]) => `${table} ${count}`).join(', ')}`,
];
process.stdout.write(`${lines.join('\n')}\n`);

const stop = (): void => {
  void server.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
