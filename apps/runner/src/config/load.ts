import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import * as z from 'zod';
import { builtInEntities, SyncError } from '@crm-sync/core';
import type { CrmPlugin, CustomEntityInput, PluginContext, StorePlugin } from '@crm-sync/core';
import { demoConfigInput, selectDefaults } from '../builtins/index.js';
import { loadPlugins, PluginLoadError } from '../plugins/registry.js';
import type { PluginRegistry } from '../plugins/registry.js';
import { applyOverrides, envOverrides } from './env.js';
import type { Override } from './env.js';
import { lineAndColumn, locateJsonError } from './json.js';
import { CRM_RUNNER_KEYS, crmPluginOptions, runnerConfigSchema } from './schema.js';
import type { PluginOptions, RunnerConfig } from './schema.js';
import { closestName, didYouMean } from './suggest.js';

type Env = Readonly<Record<string, string | undefined>>;
type Json = Record<string, unknown>;

/** Values that come from the environment only and never appear in logs or errors. */
export interface Secrets {
  apiToken?: string;
  /** What the plugins asked to hide (a client secret, a database URL and its password). */
  plugins: string[];
}

export interface LoadedConfig {
  config: RunnerConfig;
  secrets: Secrets;
  /** The file read, or null (demo defaults or environment only). */
  file: string | null;
  /** True when neither a file nor the environment named a CRM: the seeded simulator runs. */
  demo: boolean;
  /** The config file's directory (the working directory without one); plugins resolve paths against it. */
  baseDir: string;
  env: Env;
  /** The plugins the config selects (`crm.kind`, `store.kind`), and every plugin known. */
  plugins: { crm: CrmPlugin; store: StorePlugin; registry: PluginRegistry };
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
const SIDES = { crm: 'CRM', store: 'store' } as const;
type Side = keyof typeof SIDES;

function invalid(where: string, problems: string[]): SyncError {
  return new SyncError('CONFIG_INVALID', `Invalid configuration (${where}):\n  ${problems.join('\n  ')}`, {
    details: { issues: problems },
  });
}

function readJsonFile(path: string): Json {
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
  return parsed as Json;
}

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** `path: problem (from VARIABLE)` lines of zod issues, under `prefix` (a side's options, or the root). */
function issueLines(issues: readonly z.core.$ZodIssue[], root: z.ZodType, prefix: readonly string[], input: unknown, sources: Map<string, string>): string[] {
  return issues.flatMap((issue) => {
    const path = [...prefix, ...issue.path.map(String)];
    if (issue.code === 'unrecognized_keys') return unknownKeyProblems(root, prefix, issue.path, issue.keys, input);
    const dotted = path.join('.');
    const from = sources.get(dotted);
    return [`${dotted || '(root)'}: ${issue.message}${from ? ` (from ${from})` : ''}${entityTypo(issue, input)}`];
  });
}

/** `crm.kind: unknown CRM "x"; ...` naming the known plugins and where they come from. */
function unknownPlugin(side: Side, kind: string, registry: PluginRegistry): string {
  const names = registry.names(side);
  const close = closestName(kind, names);
  const known = names.map((name) => {
    const plugin = side === 'crm' ? registry.crm(name) : registry.store(name);
    const origin = plugin ? registry.origin(plugin) : 'built in';
    return origin === 'built in' ? name : `${name} (${origin})`;
  });
  return `${side}.kind: unknown ${SIDES[side]} "${kind}"${close ? `; did you mean "${close}"?` : ''} (known: ${known.join(', ')}; others are loaded with "plugins")`;
}

/**
 * Reads the config file (or the demo defaults), applies env and flag overrides, loads the plugins it
 * lists, validates it all with zod (the CRM's and the store's options with their plugin's schema),
 * and picks the secrets from the environment. Throws CONFIG_INVALID listing every `path: problem`;
 * secret values never appear in it.
 */
export async function loadConfig(options: LoadOptions): Promise<LoadedConfig> {
  const env = options.env;
  const cwd = options.cwd ?? process.cwd();
  const path = options.path ?? (env.CRM_SYNC_CONFIG || undefined);
  const file = path ? resolve(cwd, path) : null;
  const baseDir = file ? dirname(file) : cwd;
  const overrides = [...envOverrides(env), ...(options.flags ?? [])];
  const namesCrm = overrides.some((o) => o.path[0] === 'crm');
  const demo = file === null && !namesCrm;
  const raw = file ? readJsonFile(file) : demo ? (demoConfigInput() as Json) : {};
  const where = file ?? (demo ? 'demo defaults and environment' : 'environment');
  const { input, sources } = applyOverrides(raw, overrides, (selected, o) => selectDefaults(selected, o, env));

  const listed = z.array(z.string()).safeParse(input.plugins ?? []);
  let registry: PluginRegistry;
  try {
    registry = await loadPlugins(listed.success ? listed.data : [], baseDir);
  } catch (error) {
    if (error instanceof PluginLoadError) throw invalid(where, error.problems);
    throw error;
  }
  const kindOf = (side: Side) => (isObject(input[side]) && typeof input[side].kind === 'string' ? input[side].kind : undefined);
  const crmPlugin = registry.crm(kindOf('crm') ?? '');
  if (crmPlugin?.entities?.length) addPluginEntities(input, crmPlugin.entities);

  const problems: string[] = [];
  const parsed = runnerConfigSchema.safeParse(input);
  if (!parsed.success) problems.push(...issueLines(parsed.error.issues, runnerConfigSchema, [], input, sources));
  const selected: Partial<Record<Side, { plugin: CrmPlugin | StorePlugin; options: PluginOptions }>> = {};
  for (const side of Object.keys(SIDES) as Side[]) {
    const kind = kindOf(side);
    if (kind === undefined) continue; // the root schema has said what is wrong
    const plugin = side === 'crm' ? registry.crm(kind) : registry.store(kind);
    if (!plugin) {
      problems.push(unknownPlugin(side, kind, registry));
      continue;
    }
    const { kind: _kind, ...rest } = input[side] as Json;
    // The runner's own keys of the crm section (validated by the root schema) never reach the plugin.
    const own: Json = {};
    if (side === 'crm') {
      for (const key of CRM_RUNNER_KEYS) {
        if (key in rest) own[key] = rest[key];
        delete rest[key];
      }
    }
    const result = plugin.options.safeParse(rest);
    if (!result.success) {
      problems.push(...issueLines(result.error.issues, plugin.options, [side], rest, sources));
      continue;
    }
    selected[side] = { plugin, options: { kind, ...own, ...(result.data as Json) } };
  }
  if (problems.length > 0 || !parsed.success) throw invalid(where, problems);
  const crm = selected.crm as { plugin: CrmPlugin; options: PluginOptions };
  const store = selected.store as { plugin: StorePlugin; options: PluginOptions };
  const config: RunnerConfig = { ...parsed.data, crm: crm.options, store: store.options };

  const secrets: Secrets = { plugins: [] };
  const context = pluginContext({ baseDir, env });
  for (const [side, { plugin, options: chosen }] of [['crm', crm], ['store', store]] as const) {
    const check = plugin.check?.((side === 'crm' ? crmPluginOptions(chosen) : chosen) as never, context) ?? {};
    secrets.plugins.push(...(check.secrets ?? []));
    problems.push(...(check.problems ?? []).map((p) => (/^[A-Za-z_][\w.]*: /.test(p) ? `${side}.${p}` : `${side}: ${p}`)));
  }
  const apiToken = env[config.server.apiTokenEnv];
  if (apiToken) {
    if (apiToken.length < API_TOKEN_MIN_LENGTH) {
      problems.push(`server.apiTokenEnv: the token in ${config.server.apiTokenEnv} must be at least ${API_TOKEN_MIN_LENGTH} characters`);
    } else {
      secrets.apiToken = apiToken;
    }
  }
  if (problems.length > 0) throw invalid(where, problems);
  return { config, secrets, file, demo, baseDir, env, plugins: { crm: crm.plugin, store: store.plugin, registry } };
}

/** The entities a CRM plugin contributes, before the config's own custom entities (which win by name). */
function addPluginEntities(input: Json, entities: readonly CustomEntityInput[]): void {
  const sync = isObject(input.sync) ? input.sync : {};
  const own = Array.isArray(sync.customEntities) ? sync.customEntities : [];
  const names = new Set(own.map((e) => (isObject(e) ? e.name : undefined)));
  input.sync = { ...sync, customEntities: [...entities.filter((e) => !names.has(e.name)), ...own] };
}

/** What a plugin gets from the runner: where the config is, the environment, and the log (set once there is one). */
export function pluginContext(loaded: Pick<LoadedConfig, 'baseDir' | 'env'>, log: PluginContext['log'] = () => {}): PluginContext {
  return { baseDir: loaded.baseDir, env: loaded.env, log };
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
function knownKeysAt(root: z.ZodType, path: readonly PropertyKey[], input: unknown): string[] {
  let schemas: z.ZodType[] = [root];
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

/**
 * One line per unknown key: the closest known key when it looks like a typo, else every known key.
 * `root` is the schema `path` starts in (the config's, or a plugin's under `prefix`).
 */
function unknownKeyProblems(root: z.ZodType, prefix: readonly string[], path: readonly PropertyKey[], keys: readonly string[], input: unknown): string[] {
  const full = [...prefix, ...path.map(String)];
  const dotted = full.join('.') || '(root)';
  // A plugin's options sit beside the `kind` that selects it.
  const runnerKeys = prefix[0] === 'crm' ? CRM_RUNNER_KEYS : [];
  const known = [...(prefix.length > 0 && path.length === 0 ? ['kind', ...runnerKeys] : []), ...knownKeysAt(root, path, input)];
  return keys.map((key) => {
    const moved = movedKey(full, key);
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

/** Every secret value, for redaction: the API token and what the plugins named. */
export function secretValues(secrets: Secrets): string[] {
  return [secrets.apiToken, ...secrets.plugins].filter((v): v is string => typeof v === 'string' && v.length > 0);
}
