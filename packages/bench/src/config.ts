/**
 * Sizes of the default run (the ones BENCHMARKS.md reports) and of a quick run (`CRM_SYNC_BENCH_QUICK=1`) for trying
 * the suite out; only the default run's figures count. `CRM_SYNC_BENCH_RUNS` changes the number
 * of runs each median is taken over; `CRM_SYNC_BENCH_ONLY=pull,copy,tables,limits,embedded,push` picks suites.
 */
export const quick = process.env.CRM_SYNC_BENCH_QUICK === '1';
/**
 * Items 7 and 8: the simulator holds each answer for its execution time, as the real service takes
 * it (`limits.holdAnswers`). `CRM_SYNC_BENCH_HOLD_ANSWERS=0` answers as fast as computed instead: a
 * what-if run, written to results/partial.json only.
 */
export const holdAnswers = process.env.CRM_SYNC_BENCH_HOLD_ANSWERS !== '0';

const full = {
  runs: 3,
  /** Item 1, with a tenth as many accounts and a quarter as many leads. */
  initialContacts: 200_000,
  /** Item 2: engine pages of 5,000 contacts written both ways. */
  copyPages: 20,
  /** Items 3, 5 and 6: the two synced tables. */
  smallTable: 100_000,
  largeTable: 1_000_000,
  /** Item 6: the account with the most contacts, and the one at the activity threshold. */
  largeAccounts: [100_000, 5_000],
  /** Item 5. */
  changedRows: 100,
  /** Item 7 and item 8 with limits on. */
  throttledContacts: 60_000,
  /** Item 9: edits, and new persons pushed with CreateMultiple and with $batch. */
  pushEdits: 10_000,
  pushCreates: 10_000,
};

const small: typeof full = {
  runs: 2,
  initialContacts: 20_000,
  copyPages: 4,
  smallTable: 10_000,
  largeTable: 100_000,
  largeAccounts: [20_000, 5_000],
  changedRows: 100,
  throttledContacts: 30_000,
  pushEdits: 1_000,
  pushCreates: 1_000,
};

const runs = Number(process.env.CRM_SYNC_BENCH_RUNS);
export const sizes = { ...(quick ? small : full), ...(Number.isInteger(runs) && runs > 0 ? { runs } : {}) };

export const SUITES = ['pull', 'copy', 'tables', 'limits', 'embedded', 'push'] as const;
export type Suite = (typeof SUITES)[number];
const only = (process.env.CRM_SYNC_BENCH_ONLY ?? '').split(',').map((s) => s.trim()).filter(Boolean);
export const suites: readonly Suite[] = only.length ? SUITES.filter((s) => only.includes(s)) : SUITES;

/**
 * Item 7: the documented window and budgets divided by this (the rates stay the documented ones):
 * 30 s. A page held for 2 s must be small against the window, as it is against the real 300 s:
 * against a 3 s window a few pages landing at once fill it, and a client that paces itself to avoid
 * 429s must leave much of it unused.
 */
export const WINDOW_SCALE = 10;
/** Item 7: initial loads back to back per run, so that a run spans more than one window (the sustained rate). */
export const LOADS_PER_RUN = quick ? 2 : 5; // a quick run only tries the suite out
/**
 * Item 7: execution time a row is charged, the key alone and per further column. The bench's contact
 * rows have 10 columns besides the key, so a whole row costs the documented 0.4 ms (a 5,000-row page
 * 2,010 ms) and a key alone a tenth of it, as selecting fewer columns costs less on Dataverse.
 */
export const ROW_COST = { perRowMs: 0.04, perColumnMs: 0.036 };
/** Item 7: simulated ms per real ms. At 1 the ceiling stays below what this machine can pull. */
export const CLOCK_SCALE = 1;
/**
 * Item 7 with several web servers: the org's servers, each with its own limits, and an `x-ms-dop-hint`
 * of 8 per server (an environment given more servers recommends more parallelism).
 */
export const WEB_SERVERS = 2;
