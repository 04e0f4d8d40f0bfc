import { SyncError } from '@crm-sync/core';
import type { Runtime } from '../wiring/runtime.js';

/** The canonical name of a known entity; else ENTITY_UNKNOWN (404) listing the known ones. */
export function requireEntity(runtime: Runtime, name: string): string {
  if (runtime.engine.registry.has(name)) return runtime.engine.registry.get(name).name;
  const known = runtime.engine.registry.all.map((e) => e.name);
  throw new SyncError('ENTITY_UNKNOWN', `Unknown entity "${name}"; known: ${known.join(', ')}`, { details: { entity: name, known } });
}
