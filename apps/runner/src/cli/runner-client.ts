import type { LoadedConfig } from '../config/load.js';
import { EXIT, cliExit } from './io.js';

/** A running runner's HTTP API, as the CLI's status and fields commands use it. */
export interface RunnerClient {
  readonly baseUrl: string;
  request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown>;
}

/** Where the config's runner listens (a wildcard bind address is reached on loopback). */
export function configuredRunnerUrl(loaded: LoadedConfig): string {
  const { host, port } = loaded.config.server;
  const reach = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${reach.includes(':') ? `[${reach}]` : reach}:${port}`;
}

/**
 * The runner at `url` (or the config's address), or null when nothing listens there and no URL was
 * given explicitly. A runner that wants a token we do not have is an error, not an absence.
 */
export async function findRunner(loaded: LoadedConfig, url: string | undefined): Promise<RunnerClient | null> {
  const baseUrl = (url ?? configuredRunnerUrl(loaded)).replace(/\/+$/, '');
  const headers: Record<string, string> = { accept: 'application/json' };
  if (loaded.secrets.apiToken) headers.authorization = `Bearer ${loaded.secrets.apiToken}`;
  try {
    const probe = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(2_000) });
    if (!probe.ok) throw new Error(`GET /healthz answered ${probe.status}`);
    const body = (await probe.json().catch(() => null)) as { service?: unknown } | null;
    if (body?.service !== 'crm-sync') throw new Error('it is not a crm-sync runner');
  } catch (error) {
    if (url) throw cliExit(EXIT.failed, `No crm-sync runner answers at ${baseUrl}: ${(error as Error).message}`);
    return null;
  }
  return {
    baseUrl,
    async request(method, path, body) {
      const response = await fetch(`${baseUrl}${path}`, {
        method,
        headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const payload: unknown = await response.json().catch(() => null);
      if (!response.ok) {
        const error = (payload as { error?: { code?: string; message?: string } } | null)?.error;
        // A name the runner (or its CRM) does not know is bad usage, as when the CLI checks it itself;
        // a field that cannot be added is a failure with its reason, as without a runner.
        if ((error?.code === 'ENTITY_UNKNOWN' || error?.code === 'FIELD_NOT_IN_CRM') && error.message) throw cliExit(EXIT.usage, error.message);
        if ((error?.code === 'FIELD_NOT_READABLE' || error?.code === 'FIELD_NOT_ADDABLE') && error.message) {
          throw cliExit(EXIT.failed, `${error.code}: ${error.message}`);
        }
        const hint = response.status === 401 ? ' (set CRM_SYNC_API_TOKEN to the runner\'s token)' : '';
        throw cliExit(EXIT.failed, `The runner at ${baseUrl} answered ${response.status}: ${error?.code ?? ''} ${error?.message ?? ''}${hint}`.trim());
      }
      return payload;
    },
  };
}
