import * as z from 'zod';
import { builtInEntities, DEFAULT_SYNC_FILTER_FIELD } from './entities.js';
import { SyncError } from './errors.js';
import { DEFAULT_CHANGE_DATA_VALUE_THRESHOLD } from './rules/account.js';

/** Logical names of entities and fields: lowercase letters, digits and underscores. */
const logicalName = z
  .string()
  .regex(/^[a-z][a-z0-9_]*$/, 'must be a logical name: lowercase letters, digits and "_", starting with a letter');

const relationshipSchema = z.strictObject({
  field: logicalName,
  targets: z.array(logicalName).min(1),
  accountLink: z.boolean().optional(),
});

export const entitySelectionSchema = z.strictObject({
  /** Sync this entity at all (default true). */
  enabled: z.boolean().default(true),
  /** R6: fields to sync; "all" = every field the sync user can read. */
  fields: z.union([z.literal('all'), z.array(logicalName).min(1)]).default('all'),
});

export const customEntitySchema = z.strictObject({
  /** The table's logical name; the CRM adapter finds the rest (e.g. its key column) in the CRM's metadata. */
  name: logicalName,
  relationships: z.array(relationshipSchema).default([]),
  syncFilterField: logicalName.nullable().optional(),
});

/** The sync part of the configuration: what syncs, how often, and the thresholds of the rules. */
export const syncConfigSchema = z
  .strictObject({
  /** R3: pause between the end of a cycle and the start of the next. */
  intervalMs: z.number().int().min(1_000).default(300_000),
  /** R7: accounts with more contacts than this log no per-contact activity. */
  changeDataValueThreshold: z.number().int().min(0).default(DEFAULT_CHANGE_DATA_VALUE_THRESHOLD),
  /** R11: the boolean field whose explicit false keeps a record out; null turns the filter off. */
  syncFilterField: logicalName.nullable().default(DEFAULT_SYNC_FILTER_FIELD),
  /** R16: pages one entity may pull per turn before the next entity gets its turn. */
  pagesPerTurn: z.number().int().min(1).default(10),
  /**
   * R12: after a full read, records not seen are flagged as deleted in the CRM, unless they are more
   * than this share of the entity's records (then nothing is flagged and the entity reports why).
   */
  reconcileMaxDeleteShare: z.number().min(0).max(1).default(0.5),
  /**
   * A change token (Dataverse delta token) unused for about 7 days expires and the next cycle reads
   * the whole table again. An entity whose last complete read is older than this is warned about (a
   * `change-token-old` event at its next cycle, the runner's status, metrics and doctor). Default 5 days.
   */
  changeTokenWarnAfterMs: z.number().int().min(60_000).default(5 * 86_400_000),
  /**
   * Several runners on one store: how long a runner's claim on an entity lasts without renewal
   * (renewed at every commit). A crashed runner's entities are taken over after this long.
   * Default: twice the interval plus a minute.
   */
  leaseTtlMs: z.number().int().min(1_000).optional(),
  /**
   * Field history retention: entries older than this many days are removed (checked after a cycle,
   * at most once a day); null keeps them all. Default 90.
   */
  historyRetentionDays: z.number().int().min(1).nullable().default(90),
  /** Per-entity selection, by logical name; entities not listed sync with every readable field. */
  entities: z.record(logicalName, entitySelectionSchema).default({}),
  /** R1: custom entities, always synced from the CRM only. */
  customEntities: z.array(customEntitySchema).default([]),
})
  .superRefine((config, ctx) => {
    const builtIn = new Set(builtInEntities.map((e) => e.name));
    const custom = new Set<string>();
    config.customEntities.forEach((entity, i) => {
      if (builtIn.has(entity.name) || custom.has(entity.name)) {
        ctx.addIssue({ code: 'custom', path: ['customEntities', i, 'name'], message: `"${entity.name}" is already an entity` });
      }
      custom.add(entity.name);
    });
    // A typo in an entity name would otherwise be ignored silently.
    for (const name of Object.keys(config.entities)) {
      if (!builtIn.has(name) && !custom.has(name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['entities', name],
          message: `unknown entity; known: ${[...builtIn, ...custom].join(', ')} (declare custom entities in customEntities)`,
        });
      }
    }
  });

export type SyncConfigInput = z.input<typeof syncConfigSchema>;
export type SyncConfig = z.output<typeof syncConfigSchema>;

/** Formats zod issues as `path: problem` lines, the way every config error reads. */
export function formatIssues(issues: readonly z.core.$ZodIssue[], root = ''): string[] {
  return issues.map((issue) => {
    const path = [root, ...issue.path.map(String)].filter(Boolean).join('.');
    return `${path || '(root)'}: ${issue.message}`;
  });
}

/** Validates sync settings; throws CONFIG_INVALID listing every path and problem. */
export function parseSyncConfig(input: unknown): SyncConfig {
  const parsed = syncConfigSchema.safeParse(input ?? {});
  if (!parsed.success) {
    const problems = formatIssues(parsed.error.issues);
    throw new SyncError('CONFIG_INVALID', `Invalid sync configuration:\n  ${problems.join('\n  ')}`, {
      details: { issues: problems },
      cause: parsed.error,
    });
  }
  return parsed.data;
}
