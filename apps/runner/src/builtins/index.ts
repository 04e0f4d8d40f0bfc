import type { Plugin } from '@crm-sync/core';
import type { Override } from '../config/env.js';
import { dynamicsPlugin } from './dynamics.js';
import { embeddedPlugin } from './embedded.js';
import { memoryPlugin } from './memory.js';
import { databaseUrlFrom, postgresPlugin } from './postgres.js';
import { simulatorPlugin } from './simulator.js';

export { demoConfigInput } from './demo.js';

/**
 * The registry of built-ins: the only place in the runner that names an implementation. They are
 * plugins like any other (`@crm-sync/core`'s contracts/plugin.ts); the rest of the runner works from
 * the definitions and the capabilities.
 */
export const builtInPlugins: readonly Plugin[] = [dynamicsPlugin, simulatorPlugin, memoryPlugin, embeddedPlugin, postgresPlugin];

type Json = Record<string, unknown>;
type Env = Readonly<Record<string, string | undefined>>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const CRM_KEYS = new Set(['environmentUrl', 'tenantId', 'clientId']);

/**
 * Fills in the plugins a config does not name, before validation: the simulator for the CRM side.
 * For the store: PostgreSQL when a database URL is in the environment; else the embedded store for
 * a real CRM (a runner without a database server loses nothing at restart), and memory for the
 * simulator in the runner's process (the demo: its org is generated again at each start, so a copy
 * of it is worth nothing after exit). Naming the Dynamics environment in the environment switches
 * the CRM to Dynamics; a simulator of the file takes a tenant and client id as credentials of its own.
 */
export function selectDefaults(input: Json, overrides: readonly Override[], env: Env): void {
  const fileSimulator = isObject(input.crm) && input.crm.kind === simulatorPlugin.name;
  if (overrides.some((o) => o.path[0] === 'crm' && CRM_KEYS.has(o.path[1]) && !(fileSimulator && o.path[1] !== 'environmentUrl'))) {
    if (!isObject(input.crm) || input.crm.kind !== dynamicsPlugin.name) input.crm = { kind: dynamicsPlugin.name };
  }
  if (input.crm === undefined) input.crm = { kind: simulatorPlugin.name };
  if (input.store !== undefined) return;
  const crm = input.crm as Json;
  const inProcessSimulator = crm.kind === simulatorPlugin.name && crm.url === undefined;
  input.store = { kind: databaseUrlFrom(env) ? postgresPlugin.name : inProcessSimulator ? memoryPlugin.name : embeddedPlugin.name };
}
