import { fileURLToPath } from 'node:url';
import type { CrmRecord, EntityDefinition, FieldMap, FieldPlan, LocalRecord, PushAction } from '@crm-sync/core';
import { ruleFunctions } from '@crm-sync/core';
import { afterAll, describe, expect, it, vi } from 'vitest';

/**
 * Mutation test of the rules: each rule function of `packages/core/src/rules` (the table
 * `ruleFunctions`) is swapped for a wrong version, and the end-to-end rule scenarios (src/scenarios.ts,
 * real engine cycles on the fake CRM and the memory store) must fail: a rule that can be broken with
 * the scenarios green is not wired into the engine. Prints the table rule | function | mutation |
 * scenarios failed.
 */

type Fn = (...args: never[]) => unknown;
interface Mutation {
  rule: string;
  module: string;
  fn: string;
  what: string;
  wrong: (actual: Fn) => Fn;
}

const m = (rule: string, module: string, fn: string, what: string, wrong: (actual: Fn) => Fn): Mutation => ({ rule, module, fn, what, wrong });

const mutations: Mutation[] = [
  m('R1', 'direction', 'syncsBothWays', 'every entity syncs both ways (accounts too)', () => () => true),
  m('R2', 'direction', 'collisionWinner', 'the collision winner flipped', (actual) => (entity: EntityDefinition) =>
    ((actual as (e: EntityDefinition) => string)(entity) === 'local' ? 'crm' : 'local')),
  m('R2', 'merge', 'mergeRecord', 'collisions are not recorded', (actual) => (input: never) => ({ ...(actual(input) as object), collisions: [] })),
  m('R3', 'cadence', 'afterPrevious', 'a cycle starts without waiting for the one before (overlap)', () => (_previous: Promise<unknown>, work: () => Promise<unknown>) => work()),
  m('R3', 'cadence', 'delayBeforeNextCycle', 'no wait between cycles', () => () => 0),
  m('R4', 'account', 'accountOverwrite', 'local account edits survive a CRM change', (actual) => (fields: readonly string[], local: FieldMap, crm: FieldMap) => {
    const r = (actual as (f: readonly string[], l: FieldMap, c: FieldMap) => { company: FieldMap; changed: string[] })(fields, local, crm);
    return { ...r, company: Object.fromEntries(fields.map((f) => [f, local[f] !== undefined && local[f] !== null ? local[f] : (crm[f] ?? null)])) };
  }),
  m('R4', 'account', 'localAccountEdit', 'a local account edit changes nothing', () => () => ({ company: {}, changed: [] })),
  m('R4', 'account', 'fanOutTargets', 'an account change reaches no contact', () => () => []),
  m('R4', 'account', 'companySource', 'a contact mirrors no account', () => () => ({ entity: 'account', crmId: null })),
  m('R5', 'guards', 'assertCanCreateInCrm', 'one-way records may be created in the CRM', () => () => undefined),
  m('R6', 'fields', 'planFields', 'every readable field is pushable', (actual) => (...args: never[]) => {
    const plan = actual(...args) as FieldPlan;
    return { ...plan, pushable: [...plan.synced] };
  }),
  m('R7', 'account', 'logsPerContactActivities', 'threshold off by one (5,000 contacts log nothing)', () => (count: number, threshold = 5_000) => count < threshold),
  m('R7', 'account', 'fanOutLog', "activities name the contact's own field, not company.<field>", (actual) => (changed: readonly string[], source: never, detail: never) => ({
    ...(actual(changed as never, source, detail) as object), fields: Object.fromEntries(changed.map((f) => [f, f])),
  })),
  m('R7', 'account', 'fanOutDetail', 'activities do not say which account', () => () => ''),
  m('R7', 'persons', 'changeActivities', 'person field changes are not logged', () => () => []),
  m('R6', 'guards', 'localEditFields', 'CRM fields the sync user cannot update may be edited locally', (actual) => (fields: readonly string[], ...rest: never[]) =>
    ({ ...(actual(fields as never, ...rest) as object), pushed: [...fields], refused: [] })),
  m('R8', 'guards', 'pushableSubset', 'local-only fields are pushed too', () => (fields: FieldMap) => ({ ...fields })),
  m('R9', 'drift', 'schemaDrift', 'schema drift never told', () => () => null),
  m('R10', 'fields', 'fieldAddition', 'every field is taken as already synced', () => () => ({ kind: 'in-plan' })),
  m('R10', 'quick-sync', 'fieldsToBackfill', 'new fields are never backfilled', () => () => []),
  m('R10', 'quick-sync', 'backfillValues', 'Quick Sync sets nothing', () => () => ({})),
  m('R10', 'quick-sync', 'quickSyncActivity', 'Quick Sync logged as a change of each value', (actual) => (...args: never[]) =>
    ({ ...(actual(...args) as object), type: 'change-data-value' })),
  m('R11', 'records', 'passesSyncFilter', 'the sync filter inverted', (actual) => (...args: never[]) => !actual(...args)),
  m('R12', 'records', 'shouldFlagCrmDelete', 'CRM deletes are not flagged', () => () => false),
  m('R12', 'records', 'crmDeletion', 'a CRM delete keeps the record unflagged', (actual) => (entity: string, local: LocalRecord, detail: string | null) => {
    const deletion = (actual as (e: string, l: LocalRecord, d: string | null) => { write: Record<string, unknown>; activity: unknown })(entity, local, detail);
    return { ...deletion, write: { ...deletion.write, crmDeleted: false } };
  }),
  m('R12', 'records', 'reconcileRefused', 'a full read that lost most of a table flags it all', () => () => false),
  m('R12', 'records', 'refusedAfterCrmDelete', 'edits of a CRM-deleted person are accepted and dropped', () => () => []),
  m('R13', 'records', 'isEcho', 'echoes are not recognised', () => () => false),
  m('R14', 'persons', 'pushAction', 'local persons marked for sync are not created in the CRM', (actual) => (entity: never, record: LocalRecord) => {
    const action = actual(entity, record as never) as PushAction;
    return action.kind === 'create' ? { kind: 'none' } : action;
  }),
  m('R14', 'persons', 'newPersonActivities', 'a new person logs no New Person activity', () => () => []),
  m('R15', 'records', 'accountIdOf', 'a parent that is a contact is taken for an account', (actual) => (entity: never, row: CrmRecord) =>
    actual(entity, row as never) ?? row.lookups.parentcustomerid?.id ?? null),
  m('R16', 'order', 'cycleOrder', 'dependency order reversed', (actual) => (entities: never) => [...(actual(entities) as unknown[])].reverse()),
  m('R16', 'order', 'nextTurns', 'no turns: each entity drained before the next', (actual) => (runs: never, pages: never) =>
    (actual(runs, pages) as Array<{ run: unknown }>).map(({ run }) => ({ run, pages: Number.MAX_SAFE_INTEGER }))),
];

const rulesDir = fileURLToPath(new URL('../../core/src/rules/', import.meta.url));
const SCENARIO_TIMEOUT_MS = 30_000;

/** Runs every rule scenario on the fake CRM and the memory store, with the modules as mocked now; returns the names that failed. */
async function failingScenarios(): Promise<string[]> {
  vi.resetModules();
  const { scenarios } = await import('../src/scenarios.js');
  const { fakeCrmWithMemoryStore } = await import('../src/harness.js');
  const failed: string[] = [];
  for (const s of scenarios) {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timed out')), SCENARIO_TIMEOUT_MS)));
    try {
      await Promise.race([s.run(fakeCrmWithMemoryStore), timeout]);
    } catch {
      failed.push(s.name);
    } finally {
      clearTimeout(timer);
    }
  }
  return failed;
}

const rows: Array<{ rule: string; fn: string; what: string; failed: string[] }> = [];

describe('rule mutations: every wrong rule fails an end-to-end scenario', () => {
  it('every function of every rule R1-R16 has a mutation', () => {
    const listed = Object.entries(ruleFunctions).flatMap(([rule, modules]) =>
      Object.entries(modules).flatMap(([module, fns]) => (fns as readonly string[]).map((fn) => `${rule} ${module}.${fn}`)));
    expect(Object.keys(ruleFunctions)).toEqual(Array.from({ length: 16 }, (_, i) => `R${i + 1}`));
    const mutated = new Set(mutations.map((x) => `${x.module}.${x.fn}`));
    expect(listed.filter((entry) => !mutated.has(entry.split(' ')[1] as string))).toEqual([]);
  });

  it('the scenarios pass with the rules as they are', async () => {
    expect(await failingScenarios()).toEqual([]);
  }, 120_000);

  for (const mutation of mutations) {
    it(`${mutation.rule}: ${mutation.module}.${mutation.fn}: ${mutation.what}`, async () => {
      const path = `${rulesDir}${mutation.module}.ts`;
      vi.doMock(path, async (importOriginal) => {
        const actual = await importOriginal<Record<string, unknown>>();
        expect(typeof actual[mutation.fn], `${mutation.module}.${mutation.fn}`).toBe('function');
        return { ...actual, [mutation.fn]: mutation.wrong(actual[mutation.fn] as Fn) };
      });
      try {
        const failed = await failingScenarios();
        rows.push({ rule: mutation.rule, fn: `${mutation.fn}`, what: mutation.what, failed });
        expect(failed.length, 'no end-to-end scenario failed: the rule function is not wired').toBeGreaterThan(0);
      } finally {
        vi.doUnmock(path);
      }
    }, 300_000);
  }

  afterAll(() => {
    const short = (name: string) => name.split(':')[0] ?? name;
    const lines = [
      '| rule | function | mutation | scenarios failed |',
      '|---|---|---|---|',
      ...rows.map((r) => `| ${r.rule} | ${r.fn} | ${r.what} | ${r.failed.length > 0 ? `${r.failed.length}: ${[...new Set(r.failed.map(short))].join('; ')}` : 'NONE (not wired)'} |`),
    ];
    const covered = new Set(rows.filter((r) => r.failed.length > 0).map((r) => r.rule));
    lines.push('', `rules covered: ${covered.size}/16${covered.size < 16 ? ` (missing: ${Object.keys(ruleFunctions).filter((r) => !covered.has(r)).join(', ')})` : ''}`);
    console.log(lines.join('\n'));
  });
});
