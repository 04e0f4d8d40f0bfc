/**
 * Environment overrides, applied to the raw file contents before validation so that a bad value is
 * reported at its config path, with the variable it came from.
 */
type Json = Record<string, unknown>;
type Env = Readonly<Record<string, string | undefined>>;

/** Settings a flag or variable can override, by config path. */
export interface Override {
  path: readonly [string, string];
  value: string;
  /** Where it came from, e.g. `CRM_SYNC_PORT` or `--port`. */
  from: string;
}

const NUMERIC = new Set(['sync.intervalMs', 'server.port']);

const ENV_SETTINGS: readonly { env: string; path: readonly [string, string] }[] = [
  { env: 'CRM_SYNC_ENVIRONMENT_URL', path: ['crm', 'environmentUrl'] },
  { env: 'CRM_SYNC_TENANT_ID', path: ['crm', 'tenantId'] },
  { env: 'CRM_SYNC_CLIENT_ID', path: ['crm', 'clientId'] },
  { env: 'CRM_SYNC_INTERVAL_MS', path: ['sync', 'intervalMs'] },
  { env: 'CRM_SYNC_HOST', path: ['server', 'host'] },
  { env: 'CRM_SYNC_PORT', path: ['server', 'port'] },
  { env: 'CRM_SYNC_LOG_LEVEL', path: ['log', 'level'] },
  { env: 'CRM_SYNC_LOG_FORMAT', path: ['log', 'format'] },
  { env: 'CRM_SYNC_RUNNER_ID', path: ['runner', 'id'] },
];

/** Every variable that overrides a setting (the usage text lists them). */
export const ENV_SETTING_NAMES: readonly string[] = ENV_SETTINGS.map((s) => s.env);

/** The overrides present in the environment. */
export function envOverrides(env: Env): Override[] {
  return ENV_SETTINGS.flatMap(({ env: name, path }) => {
    const value = env[name];
    return value === undefined || value === '' ? [] : [{ path, value, from: name }];
  });
}

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Applies overrides to a copy of `raw`. Numbers are parsed when they look like numbers; anything
 * else stays a string so validation names the path. Returns the config path each override set.
 */
export function applyOverrides(
  raw: Json,
  overrides: readonly Override[],
  selectDefaults: (input: Json, overrides: readonly Override[]) => void,
): { input: Json; sources: Map<string, string> } {
  const input: Json = structuredClone(raw);
  const sources = new Map<string, string>();
  selectDefaults(input, overrides);
  for (const o of overrides) {
    const [section, key] = o.path;
    // Another plugin (`--store embedded`) starts from its own defaults: the options of the one it replaces may not apply.
    const replaced = key === 'kind' && isObject(input[section]) && (input[section] as Json).kind !== o.value;
    const target = isObject(input[section]) && !replaced ? (input[section] as Json) : {};
    const dotted = `${section}.${key}`;
    target[key] = NUMERIC.has(dotted) && /^-?\d+(\.\d+)?$/.test(o.value.trim()) ? Number(o.value) : o.value;
    input[section] = target;
    sources.set(dotted, o.from);
  }
  return { input, sources };
}
