import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createDataset } from '@crm-sync/dynamics-simulator';
import type { Dataset, LimitsInput, ServerOptions } from '@crm-sync/dynamics-simulator';
import type { ControlClient } from './control.js';
import { controlClient } from './control.js';

/** What a benchmark may ask of a simulator process (JSON-serialisable options only). */
export type SimulatorProcessOptions = Omit<ServerOptions, 'clock' | 'simulator' | 'dataset' | 'limits'> & {
  limits?: LimitsInput;
  /** Simulated ms per real ms (the simulator's --time-scale). */
  clockScale?: number;
};

export interface SimulatorProcess {
  readonly url: string;
  readonly pid: number;
  /** The same generated rows as the server's, computed here (ids of row i, accounts of contacts). */
  readonly dataset: Dataset;
  readonly control: ControlClient;
  stop(): Promise<void>;
}

const childScript = fileURLToPath(new URL('./child.ts', import.meta.url));

/** Starts the standalone simulator in a child process and waits until it listens. */
export async function startSimulatorProcess(options: SimulatorProcessOptions): Promise<SimulatorProcess> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--conditions=@crm-sync/source', '--import', 'tsx', childScript, JSON.stringify(options)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => resolve((JSON.parse(line) as { url: string }).url));
    child.once('exit', (code) => reject(new Error(`the simulator process exited with ${code} before listening`)));
  });
  return {
    url,
    pid: child.pid ?? 0,
    dataset: createDataset(options),
    control: controlClient(url),
    async stop() {
      child.stdin?.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
