import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../processes/runner-process.ts', import.meta.url));
const packageDir = fileURLToPath(new URL('..', import.meta.url));

/** A runner process started from processes/runner-process.ts (TypeScript sources, no build). */
export interface RunnerProcess {
  id: string;
  child: ChildProcess;
  /** The JSON event lines it printed so far. */
  events: Array<Record<string, unknown>>;
  /** Exit code, or null when killed by a signal. */
  exited: Promise<number | null>;
}

export function startRunnerProcess(id: string, env: Record<string, string>): RunnerProcess {
  const child = spawn(process.execPath, ['--conditions=@crm-sync/source', '--import', 'tsx', script], {
    cwd: packageDir,
    env: { ...process.env, ...env, RUNNER_ID: id },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const events: Array<Record<string, unknown>> = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    try {
      events.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // not an event line
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { id, child, events, exited };
}

export async function until(
  what: string,
  condition: () => boolean | Promise<boolean>,
  detail?: () => Promise<string>,
  timeoutMs = 90_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${detail ? `: ${await detail()}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
