import type { SyncStore } from '../contracts/store.js';
import { stateKeys } from './context.js';

/** How old an entity's change token is: the time since its last pull read to its end was opened. */
export interface ChangeTokenAge {
  entity: string;
  /** When the last complete pull was opened (ISO); null before the first one. */
  lastReadAt: string | null;
  ageMs: number | null;
  /** Older than the warning threshold: the token nears its expiry (about 7 days on Dataverse). */
  old: boolean;
}

/**
 * The change token's age from the store, so a runner that has not run for days shows it too (status,
 * metrics, doctor). `warnAfterMs`: the config's `changeTokenWarnAfterMs`.
 */
export async function changeTokenAge(store: SyncStore, entity: string, now: Date, warnAfterMs: number): Promise<ChangeTokenAge> {
  const raw = await store.getState(stateKeys.lastRead(entity));
  const at = raw === null ? Number.NaN : Date.parse(raw);
  if (Number.isNaN(at)) return { entity, lastReadAt: null, ageMs: null, old: false };
  const ageMs = Math.max(0, now.getTime() - at);
  return { entity, lastReadAt: new Date(at).toISOString(), ageMs, old: ageMs > warnAfterMs };
}

/** Words for a warning about an old token. */
export function describeTokenAge(age: ChangeTokenAge): string {
  const days = ((age.ageMs ?? 0) / 86_400_000).toFixed(1);
  return `${age.entity}: the last complete read was ${days} days ago (${age.lastReadAt}); a change token unused for about 7 days expires and the whole table is read again. Run a cycle`;
}
