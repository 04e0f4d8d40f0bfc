import { startSimulatorServer } from '@crm-sync/dynamics-simulator';
import type { ServerOptions, SimulatorServer } from '@crm-sync/dynamics-simulator';
import { spawnCli } from './runner-process.js';
import type { CliResult } from './runner-process.js';

/** A standalone simulator on a free 127.0.0.1 port, in the test process (so tests can inspect it). */
export function startTestSimulator(options: ServerOptions = {}): Promise<SimulatorServer> {
  return startSimulatorServer({ port: 0, seed: 3, contacts: 600, ...options });
}

/** Rows of a generated table the sync keeps: every row not excluded by new_synctomkto = false (R11). */
export function expectedSynced(server: SimulatorServer, table: 'account' | 'contact' | 'lead' | 'opportunity' | 'systemuser' | 'team'): number {
  const { dataset } = server.simulator;
  let n = 0;
  for (let i = 0; i < dataset.counts[table]; i += 1) {
    if (dataset.row(table, i).new_synctomkto !== false) n += 1;
  }
  return n;
}

/** The runner config for a standalone simulator. */
export function simulatorConfig(server: SimulatorServer, extra: Record<string, unknown> = {}) {
  const { sync, crm, ...rest } = extra as { sync?: Record<string, unknown>; crm?: Record<string, unknown> };
  return {
    crm: { kind: 'simulator', url: server.url, ...crm },
    store: { kind: 'memory' },
    sync: { intervalMs: 600_000, ...sync },
    server: { port: 0 },
    log: { level: 'info', format: 'json' },
    ...rest,
  };
}

/**
 * An administrator lowers a text column's maximum length in the simulated org: from then on the CRM
 * refuses longer values, so a local edit accepted under the old limit is refused on push (a refusal
 * no metadata read before it could foresee). Returns the undo.
 */
export function lowerMaxLength(server: SimulatorServer, table: string, column: string, maxLength: number): () => void {
  const definition = server.simulator.org.table(table)?.columns.get(column);
  if (definition?.maxLength === undefined) throw new Error(`${table}.${column} is not a text column of the simulated org`);
  const before = definition.maxLength;
  definition.maxLength = maxLength;
  return () => {
    definition.maxLength = before;
  };
}

/**
 * Runs `crm-sync <args>` with slow contact pages and sends `signal` once three pages of contacts are
 * in (the config must log at debug level as JSON): a stop in the middle of the contacts.
 */
export async function stopInContacts(server: SimulatorServer, args: readonly string[], signal: NodeJS.Signals, env?: Record<string, string>): Promise<CliResult> {
  server.control.setFaults({ seed: 1, rules: [{ kind: 'slow', rate: 1, delayMs: 150, path: '/contacts' }] });
  const running = spawnCli(args, env);
  try {
    await running.waitFor(/"msg":"contact: 3 pages/, 60_000);
    return await running.stop(signal);
  } finally {
    server.control.setFaults(null);
    await running.stop('SIGKILL');
  }
}
