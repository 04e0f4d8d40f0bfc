import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { finished } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { commonOptions, prepare } from '../cli/prepare.js';
import type { Prepared } from '../cli/prepare.js';
import { EXIT, cliExit, writeJson } from '../cli/io.js';
import type { CliIo } from '../cli/io.js';
import { pluginContext } from '../config/load.js';
import { pluginLog } from '../wiring/crm.js';
import { describeStore } from '../wiring/store.js';

/** The store's transfer, or a usage error naming the stores that have one. */
function transferOf({ loaded }: Prepared, command: string) {
  const transfer = loaded.plugins.store.transfer;
  if (transfer) return transfer;
  const registry = loaded.plugins.registry;
  const able = registry.names('store').filter((name) => registry.store(name)?.transfer);
  throw cliExit(EXIT.usage, `crm-sync ${command}: the store ${describeStore(loaded)} cannot ${command} its data (stores that can: ${able.join(', ')})`);
}

const counted = (counts: Record<string, number>) => Object.entries(counts).map(([table, n]) => `${n} ${table}`).join(', ');

/**
 * `crm-sync export [--out FILE]`: the store's data as JSON lines (records, checkpoints, state,
 * activities, collisions, quarantine), from one consistent snapshot, to move it to another store
 * (`crm-sync import` with that store configured). Written to a temporary file renamed at the end,
 * so a failed export leaves no file that looks whole.
 */
export async function exportCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args, options: { ...commonOptions, json: { type: 'boolean' }, out: { type: 'string', short: 'o' } }, strict: true });
  const prepared = await prepare(io, values);
  const transfer = transferOf(prepared, 'export');
  const { loaded, logger } = prepared;
  const path = resolve(io.cwd, values.out ?? `crm-sync-export-${new Date().toISOString().slice(0, 10)}.jsonl`);
  if (existsSync(path)) throw cliExit(EXIT.usage, `crm-sync export: ${path} exists; choose another --out (nothing is overwritten)`);
  const partial = `${path}.partial`;
  const out = createWriteStream(partial, { mode: 0o600 });
  try {
    const counts = await transfer.export(loaded.config.store, pluginContext(loaded, pluginLog(logger, loaded.plugins.store.name)), out);
    out.end();
    await finished(out);
    await rename(partial, path);
    if (values.json) writeJson(io, { file: path, counts });
    else io.stdout.write(`Exported ${describeStore(loaded)} to ${path}: ${counted(counts)}.\n`);
    return EXIT.ok;
  } catch (error) {
    out.destroy();
    await rm(partial, { force: true });
    throw error;
  }
}

/** `crm-sync import FILE`: reads an export into the configured store, which must be empty; all of it or nothing. */
export async function importCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { ...commonOptions, json: { type: 'boolean' } }, strict: true, allowPositionals: true });
  if (positionals.length !== 1) throw cliExit(EXIT.usage, 'Usage: crm-sync import <file> (a file written by crm-sync export)');
  const prepared = await prepare(io, values);
  const transfer = transferOf(prepared, 'import');
  const { loaded, logger } = prepared;
  const path = resolve(io.cwd, positionals[0] as string);
  if (!existsSync(path)) throw cliExit(EXIT.usage, `crm-sync import: no such file: ${path}`);
  const counts = await transfer.import(loaded.config.store, pluginContext(loaded, pluginLog(logger, loaded.plugins.store.name)), createReadStream(path));
  if (values.json) writeJson(io, { file: path, counts });
  else io.stdout.write(`Imported ${path} into ${describeStore(loaded)}: ${counted(counts)}.\n`);
  return EXIT.ok;
}
