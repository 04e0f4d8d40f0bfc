import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type * as z from 'zod';
import { builtInEntities, SyncError } from '@crm-sync/core';
import { demoConfigInput } from './demo.js';
import { applyOverrides, databaseUrlFrom, envOverrides } from './env.js';
import type { Override } from './env.js';
import { lineAndColumn, locateJsonError } from './json.js';
import { runnerConfigSchema } from './schema.js';
import type { RunnerConfig } from './schema.js';
import { closestName, didYouMean } from './suggest.js';

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
  if (text.startsWith('\uFEFF')) text = text.slice(1); // a byte order mark some editors write
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    const located = locateJsonError(text);
    if (!located) throw invalid(path, [`(file): not valid JSON: ${(error as Error).message}`]);
    const { line, column } = lineAndColumn(text, located.index);
    throw invalid(path, [`(file): not valid JSON at line ${line}, column ${column}: ${located.problem}`]);
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
      parsed.error.issues.flatMap((issue) => {
        const dotted = issue.path.map(String).join('.');
        if (issue.code === 'unrecognized_keys') return unknownKeyProblems(issue.path, issue.keys, input);
        const from = sources.get(dotted);
        return [`${dotted || '(root)'}: ${issue.message}${from ? ` (from ${from})` : ''}${entityTypo(issue, input)}`];
      }),
    );
  }
  const config = parsed.data;
  const problems: string[] = [];
  const secrets: Secrets = {};

  // Dynamics always has one; a simulator when the config names credentials of its own.
  const secretEnv = config.crm.clientSecretEnv;
  if (secretEnv !== undefined) {
    const secret = env[secretEnv];
    if (secret) secrets.clientSecret = secret;
    else problems.push(`crm.clientSecretEnv: environment variable ${secretEnv} is not set (the client secret comes from the environment only)`);
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

/** A loose view of a zod schema's definition, enough to find the keys an object accepts. */
interface SchemaDef {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  options?: z.ZodType[];
  discriminator?: string;
  valueType?: z.ZodType;
  element?: z.ZodType;
}
const defOf = (schema: z.ZodType): SchemaDef => (schema as unknown as { _zod: { def: SchemaDef } })._zod.def;

/** The schema inside default, prefault, optional, nullable and pipe wrappers. */
function unwrap(schema: z.ZodType): z.ZodType {
  const def = defOf(schema);
  if (['object', 'union', 'record', 'array'].includes(def.type)) return schema;
  const inner = def.type === 'pipe' ? def.in : def.innerType;
  return inner ? unwrap(inner) : schema;
}

/** The object schemas `schema` stands for with `input`: a discriminated union's matching option. */
function objectsOf(schema: z.ZodType, input: unknown): SchemaDef[] {
  const def = defOf(unwrap(schema));
  if (def.type === 'object') return [def];
  if (def.type !== 'union' || !def.options) return [];
  const all = def.options.flatMap((option) => objectsOf(option, input));
  const tag = def.discriminator;
  const value = tag && typeof input === 'object' && input !== null ? (input as Record<string, unknown>)[tag] : undefined;
  const matching = all.filter((o) => {
    const literal = tag ? o.shape?.[tag] : undefined;
    return literal !== undefined && (defOf(literal) as { values?: unknown[] }).values?.includes(value) === true;
  });
  return matching.length > 0 ? matching : all;
}

/** The keys the config accepts at `path` (where an object is), following the input through unions. */
function knownKeysAt(path: readonly PropertyKey[], input: unknown): string[] {
  let schemas: z.ZodType[] = [runnerConfigSchema];
  let value = input;
  for (const segment of path) {
    schemas = schemas.flatMap((schema): z.ZodType[] => {
      const def = defOf(unwrap(schema));
      if (def.type === 'record' && def.valueType) return [def.valueType];
      if (def.type === 'array' && def.element) return [def.element];
      return objectsOf(schema, value).flatMap((o) => o.shape?.[String(segment)] ?? []);
    });
    value = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[String(segment)] : undefined;
  }
  const keys = schemas.flatMap((schema) => objectsOf(schema, value).flatMap((o) => Object.keys(o.shape ?? {})));
  return [...new Set(keys)].filter((key) => key !== '$schema');
}

/** Keys earlier versions accepted: where they went, or why they are gone. */
function movedKey(path: readonly PropertyKey[], key: string): string | undefined {
  const [section, group] = path;
  if (section === 'sync' && path.length === 1 && key === 'pageSize') return 'moved to crm.pageSize (rows per page asked of the CRM)';
  if (section === 'sync' && group === 'customEntities' && path.length === 3 && (key === 'entitySet' || key === 'primaryKey')) {
    return 'no longer needed: the CRM adapter reads it from the CRM\'s metadata by the entity\'s name; remove it';
  }
  return undefined;
}

/** One line per unknown key: the closest known key when it looks like a typo, else every known key. */
function unknownKeyProblems(path: readonly PropertyKey[], keys: readonly string[], input: unknown): string[] {
  const dotted = path.map(String).join('.') || '(root)';
  const known = knownKeysAt(path, input);
  return keys.map((key) => {
    const moved = movedKey(path, key);
    if (moved) return `${dotted}.${key}: ${moved}`;
    const close = closestName(key, known);
    return `${dotted}: unknown key "${key}"${close ? `; did you mean "${close}"?` : known.length > 0 ? `; known keys: ${known.join(', ')}` : ''}`;
  });
}

/** `; did you mean "contact"?` after the problem of an unknown entity name under sync.entities. */
function entityTypo(issue: z.core.$ZodIssue, input: unknown): string {
  const [section, group, name] = issue.path;
  if (issue.code !== 'custom' || section !== 'sync' || group !== 'entities' || typeof name !== 'string' || issue.path.length !== 3) return '';
  const custom = ((input as { sync?: { customEntities?: unknown } }).sync?.customEntities ?? []) as { name?: unknown }[];
  const names = [...builtInEntities.map((e) => e.name), ...(Array.isArray(custom) ? custom.map((c) => String(c?.name)) : [])];
  return names.includes(name) ? '' : didYouMean(name, names);
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
