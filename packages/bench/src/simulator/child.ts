/**
 * A standalone simulator in its own process, so its CPU and memory are not the runner's.
 * argv[2] is the JSON of its options (plus `clockScale`); it prints one line of JSON with its URL,
 * then serves until stdin closes or it is sent SIGTERM.
 */
import { startSimulatorServer } from '@crm-sync/dynamics-simulator';
import type { ServerOptions } from '@crm-sync/dynamics-simulator';

const { clockScale, ...options } = JSON.parse(process.argv[2] ?? '{}') as ServerOptions & { clockScale?: number };
const server = await startSimulatorServer({ ...options, ...(clockScale ? { clock: { scale: clockScale } } : {}) });
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);

const stop = (): void => {
  void server.close().then(() => process.exit(0));
};
process.stdin.on('end', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
