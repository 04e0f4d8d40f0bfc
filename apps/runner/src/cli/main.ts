import { isSyncError } from '@crm-sync/core';
import { createRedactor } from '../log/redactor.js';
import { EXIT, isCliExit } from './io.js';
import type { CliIo } from './io.js';
import { USAGE } from './usage.js';
import { builtInCommands } from '../builtins/commands.js';

type Command = (args: string[], io: CliIo) => Promise<number>;

// Loaded on demand: help and usage errors answer at once, and each command loads only what it uses.
const COMMANDS: Record<string, () => Promise<Command>> = {
  start: async () => (await import('../commands/start.js')).startCommand,
  sync: async () => (await import('../commands/sync.js')).syncCommand,
  status: async () => (await import('../commands/status.js')).statusCommand,
  fields: async () => (await import('../commands/fields.js')).fieldsCommand,
  doctor: async () => (await import('../commands/doctor.js')).doctorCommand,
  migrate: async () => (await import('../commands/migrate.js')).migrateCommand,
  errors: async () => (await import('../commands/errors.js')).errorsCommand,
  why: async () => (await import('../commands/why.js')).whyCommand,
  export: async () => (await import('../commands/transfer.js')).exportCommand,
  import: async () => (await import('../commands/transfer.js')).importCommand,
  ...builtInCommands,
};

/** Runs one CLI invocation and returns its exit code. Errors are printed redacted. */
export async function main(argv: readonly string[], base: Omit<CliIo, 'redactor'>): Promise<number> {
  const io: CliIo = { ...base, redactor: createRedactor(environmentSecrets(base.env)) };
  // `pnpm dev -- start` passes the `--` along.
  const [name, ...args] = argv[0] === '--' ? argv.slice(1) : argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    io.stdout.write(USAGE);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const load = COMMANDS[name];
  if (!load) {
    io.stderr.write(`crm-sync: unknown command "${name}"\n\n${USAGE}`);
    return EXIT.usage;
  }
  if (args.includes('--help') || args.includes('-h')) {
    if (!(name in builtInCommands)) {
      io.stdout.write(USAGE);
      return EXIT.ok;
    }
  }
  try {
    const command = await load();
    return await command(args, io);
  } catch (error) {
    return reportError(error, io);
  }
}

/** Prints a failure on stderr, secrets removed; returns the exit code it deserves. */
function reportError(error: unknown, io: CliIo): number {
  const { redactor } = io;
  if (isCliExit(error)) {
    if (error.message) io.stderr.write(`${redactor.redact(error.message)}\n`);
    return error.exitCode;
  }
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
    io.stderr.write(`crm-sync: ${(error as Error).message}\nRun crm-sync --help for the options.\n`);
    return EXIT.usage;
  }
  if (isSyncError(error, 'CONFIG_INVALID')) {
    io.stderr.write(`crm-sync: ${redactor.redact(error.message)}\n`);
    return EXIT.usage;
  }
  const message = error instanceof Error ? error.message : String(error);
  const cause = error instanceof Error && error.cause instanceof Error ? ` (cause: ${error.cause.message})` : '';
  io.stderr.write(`crm-sync: ${isSyncError(error) ? `${error.code}: ` : ''}${redactor.redact(message + cause)}\n`);
  return EXIT.failed;
}

/**
 * Secrets the environment holds, known before any config is read: variables named like secrets and
 * the password of a database URL. The config's own secret variables are added once it is loaded.
 */
function environmentSecrets(env: Readonly<Record<string, string | undefined>>): string[] {
  const values = Object.entries(env)
    .filter(([name]) => /SECRET|TOKEN|PASSWORD/i.test(name))
    .map(([, value]) => value ?? '')
    // Short values ("true", "1") are settings, not secrets; hiding them would garble every line.
    .filter((value) => value.length >= 8);
  for (const url of [env.CRM_SYNC_DATABASE_URL, env.DATABASE_URL]) {
    if (!url) continue;
    try {
      const password = new URL(url).password;
      if (password) values.push(password, decodeURIComponent(password));
    } catch {
      // not a URL: nothing more to hide
    }
  }
  return values;
}
