import type { EntityDefinition } from '../entities.js';

/** R16: the entities of a cycle in dependency order (users, teams, accounts, contacts, leads, opportunities, custom). */
export function cycleOrder(entities: readonly EntityDefinition[]): EntityDefinition[] {
  return [...entities].sort((a, b) => a.order - b.order);
}

/**
 * R16: the next round of turns: every entity not done, in the order given (dependency order), each
 * for at most `pagesPerTurn` pages, so one entity's backlog delays the others by a turn, not by the
 * whole backlog.
 */
export function nextTurns<T extends { done: boolean }>(runs: readonly T[], pagesPerTurn: number): Array<{ run: T; pages: number }> {
  return runs.filter((run) => !run.done).map((run) => ({ run, pages: pagesPerTurn }));
}
