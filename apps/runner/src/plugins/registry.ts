import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CrmPlugin, Plugin, StorePlugin } from '@crm-sync/core';
import { builtInPlugins } from '../builtins/index.js';

/** The plugins a config can select: the built-ins and those its `plugins` list loads. */
export interface PluginRegistry {
  crm(name: string): CrmPlugin | undefined;
  store(name: string): StorePlugin | undefined;
  /** Names of one type, for errors (`dynamics, simulator, ...`). */
  names(type: Plugin['type']): string[];
  /** Where a plugin came from: `built in`, or the module that defined it. */
  origin(plugin: Plugin): string;
}

/** One problem per line, as config errors list them (`plugins.0: ...`). */
export class PluginLoadError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

const isFunction = (value: unknown): value is (...args: never[]) => unknown => typeof value === 'function';

/** What is wrong with an export that should be a plugin definition, or null. */
function definitionProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null) return 'is not an object';
  const p = value as Record<string, unknown>;
  if (p.type !== 'crm' && p.type !== 'store') return 'has no type "crm" or "store"';
  if (typeof p.name !== 'string' || !/^[a-z0-9][a-z0-9._-]*$/.test(p.name)) return 'has no name (lowercase letters, digits, ".", "-", "_")';
  if (typeof p.describe !== 'function') return 'has no describe(options)';
  if (typeof p.options !== 'object' || p.options === null || !isFunction((p.options as { safeParse?: unknown }).safeParse)) {
    return 'has no options schema (a zod schema)';
  }
  if (p.type === 'crm' && !isFunction(p.connect)) return 'has no connect(options, ...)';
  if (p.type === 'store') {
    if (!isFunction(p.open)) return 'has no open(options, ...)';
    const caps = p.capabilities as Record<string, unknown> | undefined;
    if (typeof caps?.persistent !== 'boolean' || typeof caps.leases !== 'boolean') return 'has no capabilities { persistent, leases }';
  }
  return null;
}

/** The module a specifier names: a path (relative to the config's directory) or a package resolved from there. */
function moduleUrl(specifier: string, baseDir: string): string {
  if (specifier.startsWith('.') || isAbsolute(specifier)) {
    const path = resolve(baseDir, specifier);
    if (!existsSync(path)) throw new Error(`no such file: ${path}`);
    // A package directory: its package.json's main names the module.
    return pathToFileURL(statSync(path).isDirectory() ? createRequire(import.meta.url).resolve(path) : path).href;
  }
  try {
    return pathToFileURL(createRequire(join(baseDir, 'noop.js')).resolve(specifier)).href;
  } catch {
    // A package without a require condition: the runner's own resolution finds it, or says why not.
    return specifier;
  }
}

/**
 * Loads the `plugins` a config lists (each module's default export: one definition or an array) and
 * returns the registry of built-ins plus them. A name may be defined once. Throws PluginLoadError
 * naming the entry (`plugins.N`) and what is wrong.
 */
export async function loadPlugins(specifiers: readonly string[], baseDir: string): Promise<PluginRegistry> {
  const origins = new Map<Plugin, string>(builtInPlugins.map((p) => [p, 'built in']));
  const problems: string[] = [];
  for (const [index, specifier] of specifiers.entries()) {
    let exported: unknown;
    try {
      const module = (await import(moduleUrl(specifier, baseDir))) as { default?: unknown };
      exported = module.default;
    } catch (error) {
      problems.push(`plugins.${index}: cannot load ${specifier}: ${(error as Error).message.split('\n')[0]}`);
      continue;
    }
    const definitions = Array.isArray(exported) ? exported : [exported];
    for (const definition of definitions) {
      const problem = definitionProblem(definition);
      if (problem) {
        problems.push(`plugins.${index}: the default export of ${specifier} ${problem}; export a definition made with defineCrmPlugin or defineStorePlugin (@crm-sync/core)`);
        continue;
      }
      const plugin = definition as Plugin;
      const taken = [...origins.keys()].find((p) => p.type === plugin.type && p.name === plugin.name);
      if (taken) {
        problems.push(`plugins.${index}: ${specifier} defines the ${plugin.type} plugin "${plugin.name}", already defined (${origins.get(taken)})`);
        continue;
      }
      origins.set(plugin, specifier);
    }
  }
  if (problems.length > 0) throw new PluginLoadError(problems);
  const all = [...origins.keys()];
  const find = <T extends Plugin>(type: T['type'], name: string) => all.find((p): p is T => p.type === type && p.name === name);
  return {
    crm: (name) => find<CrmPlugin>('crm', name),
    store: (name) => find<StorePlugin>('store', name),
    names: (type) => all.filter((p) => p.type === type).map((p) => p.name),
    origin: (plugin) => origins.get(plugin) ?? 'built in',
  };
}
