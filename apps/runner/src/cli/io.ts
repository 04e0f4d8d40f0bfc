import type { Redactor } from '../log/redactor.js';

/** What a command may touch: its streams, the environment and the working directory. */
export interface CliIo {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** Every secret met so far (config, environment, simulator credentials); errors pass through it. */
  redactor: Redactor;
}

/** 0: done; 1: something failed (a sync, a doctor step, a runtime error); 2: bad usage or configuration. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** A failure the command already explained: print `message` (if any) and exit with `code`. */
export interface CliExit extends Error {
  readonly name: 'CliExit';
  readonly exitCode: number;
}

export function cliExit(exitCode: number, message = ''): CliExit {
  return Object.assign(new Error(message), { name: 'CliExit' as const, exitCode });
}

export function isCliExit(error: unknown): error is CliExit {
  return error instanceof Error && error.name === 'CliExit';
}

export function writeJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
