import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { SyncError } from '@crm-sync/core';
import { demoConfigInput } from './demo.js';
import { applyOverrides, databaseUrlFrom, envOverrides } from './env.js';
import type { Override } from './env.js';
import { runnerConfigSchema } from './schema.js';
import type { RunnerConfig } from './schema.js';

type Env = Readonly<Record<string, string | undefined>>;

/** Values that come from the environment only and never appear in logs or errors. */
export interface Secrets {
  clientSecret?: string;
  apiToken?: string;
  databaseUrl?: string;
}

export interface LoadedConfig {
  config: RunnerConfig;
  secrets: Secrets;
  /** The file read, or null (demo defaults or environment only). */
  file: string | null;
  /** True when neither a file nor the environment named a CRM: the seeded simulator runs. */
  demo: boolean;
}

export interface LoadOptions {
  /** `--config`; falls back to CRM_SYNC_CONFIG. */
  path?: string;
  env: Env;
  /** Command-line flags, applied after the environment. */
  flags?: readonly Override[];
  cwd?: string;
}

const API_TOKEN_MIN_LENGTH = 16;

function invalid(where: string, problems: string[]): SyncError {
  return new SyncError('CONFIG_INVALID', `Invalid configuration (${where}):\n  ${problems.join('\n  ')}`, {
    details: { issues: problems },
  });
}

function readJsonFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw invalid(path, [`(file): cannot read it (${code})`]);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw invalid(path, [`(file): not valid JSON: ${(error as Error).message}`]);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalid(path, ['(root): must be a JSON object']);
  }
  return parsed as Record<string, unknown>;
}

/**
 * Reads the config file (or the demo defaults), applies env and flag overrides, validates it all
 * with zod, and picks the secrets from the environment. Throws CONFIG_INVALID listing every
 * `path: problem`; secret values never appear in it.
 */
export function loadConfig(options: LoadOptions): LoadedConfig {
  const env = options.env;
  const path = options.path ?? (env.CRM_SYNC_CONFIG || undefined);
  const file = path ? resolve(options.cwd ?? process.cwd(), path) : null;
  const overrides = [...envOverrides(env), ...(options.flags ?? [])];
  const namesCrm = overrides.some((o) => o.path[0] === 'crm');
  const demo = file === null && !namesCrm;
  const raw = file ? readJsonFile(file) : demo ? demoConfigInput() : {};
  const where = file ?? (demo ? 'demo defaults and environment' : 'environment');
  const { input, sources } = applyOverrides(raw as Record<string, unknown>, overrides, env);

  const parsed = runnerConfigSchema.safeParse(input);
  if (!parsed.success) {
    throw invalid(
      where,
      parsed.error.issues.map((issue) => {
        const dotted = issue.path.map(String).join('.');
        const from = sources.get(dotted);
        return `${dotted || '(root)'}: ${issue.message}${from ? ` (from ${from})` : ''}`;
      }),
    );
  }
  const config = parsed.data;
  const problems: string[] = [];
  const secrets: Secrets = {};

  if (config.crm.kind === 'dynamics') {
    const secret = env[config.crm.clientSecretEnv];
    if (secret) secrets.clientSecret = secret;
    else problems.push(`crm.clientSecretEnv: environment variable ${config.crm.clientSecretEnv} is not set (the client secret comes from the environment only)`);
  }
  const apiToken = env[config.server.apiTokenEnv];
  if (apiToken) {
    if (apiToken.length < API_TOKEN_MIN_LENGTH) {
      problems.push(`server.apiTokenEnv: the token in ${config.server.apiTokenEnv} must be at least ${API_TOKEN_MIN_LENGTH} characters`);
    } else {
      secrets.apiToken = apiToken;
    }
  }
  if (config.store.kind === 'postgres') {
    const url = databaseUrlFrom(env, config.store.urlEnv);
    if (!url) {
      problems.push(
        `store: a PostgreSQL store needs a database URL in ${config.store.urlEnv ?? 'CRM_SYNC_DATABASE_URL or DATABASE_URL'}`,
      );
    } else if (!/^postgres(ql)?:\/\//.test(url.value)) {
      problems.push(`store: ${url.from} must be a postgres:// or postgresql:// URL`);
    } else {
      secrets.databaseUrl = url.value;
    }
  }
  if (problems.length > 0) throw invalid(where, problems);
  return { config, secrets, file, demo };
}

/** Every secret value, for redaction: the client secret, the API token, the database URL's password. */
export function secretValues(secrets: Secrets): string[] {
  const values = [secrets.clientSecret, secrets.apiToken];
  if (secrets.databaseUrl) {
    try {
      const password = new URL(secrets.databaseUrl).password;
      if (password) values.push(password, decodeURIComponent(password));
    } catch {
      // an unparsable URL is hidden whole
      values.push(secrets.databaseUrl);
    }
  }
  return values.filter((v): v is string => typeof v === 'string' && v.length > 0);
}
