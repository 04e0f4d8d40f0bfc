export type {
  ChangePage,
  CrmAdapter,
  CrmCapabilities,
  CrmCreate,
  CrmEntitySchema,
  CrmSchemaChange,
  CrmField,
  FieldValueKind,
  CrmRecord,
  CrmUpdate,
  CrmWriteResult,
  LookupValue,
  PullRequest,
  RejectedRow,
} from './contracts/crm.js';
export type {
  Activity,
  ActivityInput,
  ActivityType,
  Collision,
  CollisionInput,
  CommitOptions,
  FanOut,
  FanOutHistory,
  FanOutLog,
  FieldCollisionDetail,
  FieldHistoryEntry,
  FieldHistoryInput,
  FieldHistoryPage,
  FieldHistoryQuery,
  FieldHistoryRule,
  Lease,
  LocalRecord,
  Page,
  PageOptions,
  QuarantineEntry,
  QuarantineInput,
  RecordDelete,
  RecordRef,
  RecordWrite,
  StoreBatch,
  StoreCapabilities,
  StoreDriver,
  StoreStats,
  SyncStore,
  WriteContext,
} from './contracts/store.js';
export { defineStore, fencedStore } from './store/define-store.js';
export { defineCrmPlugin, defineStorePlugin } from './contracts/plugin.js';
export type {
  CrmConnectOptions,
  CrmConnection,
  CrmPlugin,
  CrmTrafficEvent,
  MigrationResult,
  Plugin,
  PluginCheck,
  PluginContext,
  StoreHealth,
  StorePlugin,
} from './contracts/plugin.js';
export {
  accountLinkOf,
  builtInEntities,
  createEntityRegistry,
  DEFAULT_SYNC_FILTER_FIELD,
} from './entities.js';
export type {
  CollisionWinner,
  CustomEntityInput,
  EntityDefinition,
  EntityKind,
  EntityRegistry,
  EntityRegistryOptions,
  RelationshipDefinition,
  SyncDirection,
} from './entities.js';
export { errorCodes, isOrgWideError, isSyncError, SyncError } from './errors.js';
export type { SyncErrorCode, SyncErrorOptions } from './errors.js';
export { formatIssues, parseSyncConfig, syncConfigSchema } from './config.js';
export type { SyncConfig, SyncConfigInput } from './config.js';
export { isFieldValue, sameValue, valueOf } from './values.js';
export type { FieldMap, FieldValue } from './values.js';
export { mergeRecord } from './rules/merge.js';
export type { FieldChange, FieldCollision, MergeInput, MergeResult } from './rules/merge.js';
export { fieldAddition, planFields } from './rules/fields.js';
export type { FieldAddition, FieldExclusion, FieldExclusionReason, FieldPlan } from './rules/fields.js';
export { describeDrift, schemaDrift } from './rules/drift.js';
export type { SchemaDrift } from './rules/drift.js';
export { assertCanCreateInCrm, pushableSubset } from './rules/guards.js';
export { collisionWinner, syncsBothWays } from './rules/direction.js';
export { afterPrevious, delayBeforeNextCycle } from './rules/cadence.js';
export { cycleOrder, nextTurns } from './rules/order.js';
export { changeActivities, pushAction } from './rules/persons.js';
export type { PushAction } from './rules/persons.js';
export { fieldsToBackfill } from './rules/quick-sync.js';
export { ruleFunctions } from './rules/index.js';
export type { RuleId } from './rules/index.js';
export { assertValuesAccepted, valueProblem } from './rules/values.js';
export {
  accountOverwrite,
  DEFAULT_CHANGE_DATA_VALUE_THRESHOLD,
  localAccountEdit,
  logsPerContactActivities,
} from './rules/account.js';
export { accountIdOf, isEcho, passesSyncFilter, shouldFlagCrmDelete } from './rules/records.js';
export { createSyncEngine } from './engine/engine.js';
export type { ReplayFilter, ReplayOutcome, ReplayReport } from './engine/replay.js';
export type { DryRunOptions, DryRunReport, EntityPlanReport, PlanList } from './engine/dry-run.js';
export type { AddFieldResult, CycleOptions, SyncEngine, SyncEngineOptions } from './engine/engine.js';
export type { CycleSummary, EntityCycleSummary, SyncEvent } from './engine/events.js';
export { changeTokenAge, describeTokenAge } from './engine/token-age.js';
export type { ChangeTokenAge } from './engine/token-age.js';
export type { EngineTimer } from './engine/scheduler.js';
export type { LocalEdit } from './engine/local.js';
export {
  BUDGET_BUCKET_MS, BUDGET_SLOW_FROM, BUDGET_WINDOW_MS, budgetRefusal, budgetWait, createRequestLedger, describeUsage, judgeUsage, readRequestUsage,
} from './engine/request-budget.js';
export type { RequestLedger, RequestLedgerOptions, RequestUsage } from './engine/request-budget.js';
export { shareOrg } from './engine/org-share.js';
export type { OrgShare } from './engine/org-share.js';
export { HISTORY_PRUNED_BEFORE, pruneFieldHistory, readFieldHistory } from './engine/history.js';
export type { FieldHistoryReport, FieldHistoryStep } from './engine/history.js';
