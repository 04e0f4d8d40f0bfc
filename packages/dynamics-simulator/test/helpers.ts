import { afterEach } from 'vitest';
import { startSimulatorServer } from '../src/index.js';
import type { ServerOptions, SimulatorServer } from '../src/index.js';

const running: SimulatorServer[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => server.close()));
});

export interface TestOrg {
  server: SimulatorServer;
  /** fetch against the Web API root as the given token's user (default: the sync user). */
  api(path: string, init?: RequestInit & { token?: string | null }): Promise<Response>;
  control(path: string, init?: RequestInit): Promise<Response>;
}

/** A standalone simulator on a free port, closed after the test. */
export async function startOrg(options: ServerOptions = {}): Promise<TestOrg> {
  const server = await startSimulatorServer({ contacts: 200, ...options });
  running.push(server);
  return {
    server,
    api: (path, init = {}) => {
      const { token, headers, ...rest } = init;
      const auth: Record<string, string> = token === null ? {} : { Authorization: `Bearer ${token ?? server.simulator.tokens.sync}` };
      return fetch(`${server.webApiUrl}${path}`, {
        ...rest,
        headers: { Accept: 'application/json', 'OData-MaxVersion': '4.0', 'OData-Version': '4.0', ...auth, ...(headers as Record<string, string>) },
      });
    },
    control: (path, init = {}) =>
      fetch(`${server.url}/_simulator/${path}`, { ...init, headers: { 'Content-Type': 'application/json', ...(init.headers as Record<string, string>) } }),
  };
}

export type Json = Record<string, unknown> & { value?: Array<Record<string, unknown>> };

export async function json(response: Response): Promise<Json> {
  return (await response.json()) as Json;
}

export const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
