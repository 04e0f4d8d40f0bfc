/**
 * Where each rule R1-R16 of DESIGN.md section 1 lives: its functions, by module of `src/rules/`. The
 * engine calls exactly these functions for the rule and has no logic of its own for it; the
 * mutation test of `@crm-sync/e2e-tests` (test/mutation.test.ts) swaps each one for a wrong version
 * and sees the end-to-end scenarios fail. The registry (`src/entities.ts`) holds the rules' data:
 * each entity's direction, collision winner, relationships, filter field and order.
 */
export const ruleFunctions = {
  R1: { direction: ['syncsBothWays'] },
  R2: { merge: ['mergeRecord'], direction: ['collisionWinner'] },
  R3: { cadence: ['afterPrevious', 'delayBeforeNextCycle'] },
  R4: { account: ['accountOverwrite', 'localAccountEdit', 'fanOutTargets', 'companySource'] },
  R5: { guards: ['assertCanCreateInCrm'] },
  R6: { fields: ['planFields'], guards: ['pushableSubset', 'localEditFields'] },
  R7: { account: ['logsPerContactActivities', 'fanOutLog', 'fanOutDetail'], persons: ['changeActivities'] },
  R8: { guards: ['pushableSubset', 'localEditFields'] },
  R9: { drift: ['schemaDrift'] },
  R10: { fields: ['fieldAddition'], 'quick-sync': ['fieldsToBackfill', 'backfillValues', 'quickSyncActivity'] },
  R11: { records: ['passesSyncFilter'] },
  R12: { records: ['shouldFlagCrmDelete', 'crmDeletion', 'reconcileRefused', 'refusedAfterCrmDelete'] },
  R13: { records: ['isEcho'] },
  R14: { persons: ['pushAction', 'newPersonActivities'] },
  R15: { records: ['accountIdOf'] },
  R16: { order: ['cycleOrder', 'nextTurns'] },
} as const satisfies Record<`R${number}`, Record<string, readonly string[]>>;

export type RuleId = keyof typeof ruleFunctions;
