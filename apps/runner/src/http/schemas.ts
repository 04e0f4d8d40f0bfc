import * as z from 'zod';

/** Schemas of the HTTP API: they validate requests and describe responses in /openapi.json. */

export const fieldNameSchema = z.string().regex(/^[a-z][a-z0-9_]*$/, 'must be a logical name: lowercase letters, digits and "_"');
export const fieldValueSchema = z
  .union([z.string(), z.number().refine(Number.isFinite, 'must be a finite number'), z.boolean(), z.null()])
  .meta({ id: 'FieldValue', description: 'Text, a finite number, true/false or null.' });
export const fieldMapSchema = z.record(fieldNameSchema, fieldValueSchema).meta({ id: 'FieldMap' });

export const errorSchema = z
  .object({
    error: z.object({
      code: z.string().meta({ example: 'LOCAL_EDIT_INVALID' }),
      message: z.string(),
      issues: z.array(z.string()).optional().meta({ description: 'Each invalid input as `path: problem`.' }),
      known: z.array(z.string()).optional().meta({ description: 'The known entities (404 on an unknown entity).' }),
    }),
  })
  .meta({ id: 'Error' });

export const storeStatsSchema = z
  .object({ records: z.number(), pending: z.number(), crmDeleted: z.number(), quarantined: z.number() })
  .meta({ id: 'StoreStats' });

export const localRecordSchema = z
  .object({
    entity: z.string(),
    id: z.string(),
    crmId: z.string().nullable(),
    crmVersion: z.string().nullable(),
    revision: z.number(),
    fields: fieldMapSchema,
    base: fieldMapSchema,
    pending: z.array(z.string()).meta({ description: 'Fields changed locally and not yet pushed to the CRM.' }),
    accountId: z.string().nullable(),
    company: fieldMapSchema,
    crmDeleted: z.boolean(),
    syncToCrm: z.boolean(),
    seenIn: z.string().nullable(),
    updatedAt: z.string(),
  })
  .meta({ id: 'LocalRecord' });

export const activitySchema = z
  .object({
    seq: z.number(),
    at: z.string(),
    entity: z.string(),
    recordId: z.string(),
    type: z.enum(['change-data-value', 'new-person', 'crm-deleted', 'local-deleted', 'crm-created', 'sync-failed', 'collision', 'quick-sync', 'schema-drift', 'replay']),
    source: z.enum(['crm', 'local', 'sync']),
    field: z.string().nullable(),
    oldValue: fieldValueSchema,
    newValue: fieldValueSchema,
    detail: z.string().nullable(),
  })
  .meta({ id: 'Activity' });

export const collisionSchema = z
  .object({
    seq: z.number(),
    at: z.string(),
    entity: z.string(),
    recordId: z.string(),
    field: z.string(),
    localValue: fieldValueSchema,
    crmValue: fieldValueSchema,
    winner: z.enum(['local', 'crm']),
  })
  .meta({ id: 'Collision' });

export const quarantineEntrySchema = z
  .object({
    seq: z.number(),
    at: z.string(),
    entity: z.string(),
    recordId: z.string().nullable(),
    direction: z.enum(['pull', 'push']),
    reason: z.string(),
    payload: z.unknown(),
    resolvedAt: z.string().nullable(),
  })
  .meta({ id: 'QuarantineEntry' });

export const syncErrorSchema = z
  .object({
    seq: z.number().nullable().meta({ description: 'The quarantine entry (to replay it); null for a failed entity run.' }),
    at: z.string(),
    entity: z.string(),
    recordId: z.string().nullable(),
    type: z.enum(['pull', 'push', 'entity']),
    code: z.string(),
    message: z.string(),
  })
  .meta({ id: 'SyncErrorEntry', description: 'A quarantined record (pull or push) or a failed entity run.' });

export const entityCycleSummarySchema = z
  .object({
    entity: z.string(),
    status: z.enum(['ok', 'interrupted', 'failed', 'skipped', 'not-run']).meta({
      description:
        "ok: done; interrupted: a graceful stop came first, the next cycle goes on from its checkpoint (not a failure); failed: see error; skipped: another runner holds the entity's lease; not-run: another entity met a failure of the whole CRM connection (error names it).",
    }),
    pages: z.number(),
    pulled: z.number(),
    applied: z.number(),
    echoes: z.number(),
    filtered: z.number(),
    deleted: z.number(),
    created: z.number(),
    pushed: z.number(),
    collisions: z.number(),
    quarantined: z.number(),
    backfilled: z.number(),
    durationMs: z.number(),
    error: z.object({ code: z.string(), message: z.string() }).optional(),
  })
  .meta({ id: 'EntityCycleSummary' });

export const cycleSummarySchema = z
  .object({
    startedAt: z.string(),
    finishedAt: z.string(),
    durationMs: z.number(),
    ok: z.boolean().meta({ description: 'Every entity finished.' }),
    interrupted: z.boolean().meta({ description: 'A graceful stop ended the cycle before every entity finished and nothing failed: not a failure; the next cycle goes on from the checkpoints.' }),
    entities: z.array(entityCycleSummarySchema),
  })
  .meta({ id: 'CycleSummary' });

const planList = <T extends z.ZodType>(item: T) =>
  z.object({ total: z.number().meta({ description: 'How many there are.' }), items: z.array(item).meta({ description: 'The first of them (200 at most).' }) });

export const dryRunReportSchema = z
  .object({
    dryRun: z.literal(true),
    startedAt: z.string(),
    finishedAt: z.string(),
    durationMs: z.number().meta({ description: "How long the dry run's reads took: about what the real cycle costs, plus its writes." }),
    ok: z.boolean(),
    entities: z.array(
      z.object({
        entity: z.string(),
        summary: entityCycleSummarySchema.meta({ description: 'The counts the real cycle would report.' }),
        created: planList(z.object({ id: z.string(), fields: z.array(z.string()) })).meta({ description: 'Local records that would be created.' }),
        updated: planList(z.object({ id: z.string(), fields: z.array(z.string()) })).meta({ description: 'Local records whose fields would change.' }),
        pushes: planList(z.object({ id: z.string(), kind: z.enum(['update', 'create']), fields: fieldMapSchema })).meta({ description: 'Writes to the CRM.' }),
        collisions: planList(z.object({ recordId: z.string(), field: z.string(), localValue: fieldValueSchema, crmValue: fieldValueSchema, winner: z.enum(['local', 'crm']) })),
        deletes: planList(z.object({ id: z.string(), detail: z.string().nullable() })).meta({ description: 'Records that would be flagged as deleted in the CRM.' }),
        fanOuts: planList(z.object({ entity: z.string(), accountId: z.string(), records: z.number(), changeDataValues: z.number().meta({ description: 'Change Data Value entries it logs, at most.' }) })),
        skippedFields: z.array(z.object({ field: z.string(), reason: z.string() })),
        crmRequests: z.object({ reads: z.number(), writes: z.number() }).meta({ description: 'CRM calls: reads made by the dry run, writes the cycle would send.' }),
      }),
    ),
  })
  .meta({ id: 'DryRunReport', description: 'What a cycle would do; nothing was written on either side.' });

export const entityStatusSchema = z
  .object({
    entity: z.string(),
    direction: z.enum(['both', 'crm-to-local']),
    kind: z.string(),
    custom: z.boolean(),
    stats: storeStatsSchema,
    lastRun: entityCycleSummarySchema.extend({ finishedAt: z.string() }).nullable(),
    /** CRM rows the sync filter (R11) left out, summed over this runner's cycles; null without a running runner. */
    filteredSinceStart: z.number().nullable(),
    changeToken: z
      .object({ lastReadAt: z.string().nullable(), ageMs: z.number().nullable(), old: z.boolean() })
      .meta({ description: 'The last complete read of the entity (its change token expires after about 7 days unused); `old` once older than sync.changeTokenWarnAfterMs.' }),
  })
  .meta({ id: 'EntityStatus' });

export const statusSchema = z
  .object({
    runner: z.object({
      version: z.string(),
      startedAt: z.string().nullable(),
      demo: z.boolean(),
      crm: z.object({ kind: z.string(), url: z.string() }),
      store: z.object({ kind: z.string(), description: z.string() }),
      intervalMs: z.number(),
      scheduled: z.boolean(),
      cycleInProgress: z.object({ startedAt: z.string(), entities: z.array(z.string()) }).nullable(),
      nextCycleAt: z.string().nullable(),
    }),
    requests: z
      .object({
        used: z.number().meta({ description: 'CRM requests in the rolling 24 hours, every runner on the store (a batch counts its operations).' }),
        budget: z.number().nullable().meta({ description: 'crm.dailyRequestBudget; null: not capped.' }),
        share: z.number().nullable(),
        state: z.enum(['ok', 'slowed', 'spent']).meta({ description: 'slowed: from 80% of the budget cycles come further apart; spent: none starts until roomAt.' }),
        roomAt: z.string().nullable(),
        ownOnly: z.boolean(),
        detail: z.string(),
        budgetWaitMs: z.number().nullable(),
      })
      .meta({ id: 'RequestBudget' }),
    parallelism: z
      .object({
        recommended: z.number().nullable().meta({ description: "The CRM's latest recommended parallel requests (x-ms-dop-hint) for the whole org." }),
        concurrency: z.number().nullable().meta({ description: "Requests this runner's adapter allows in flight: its share." }),
        runnersSharingOrg: z.number(),
        owners: z.array(z.string()),
      })
      .nullable(),
    lastCycle: cycleSummarySchema.nullable(),
    entities: z.array(entityStatusSchema),
  })
  .meta({ id: 'Status' });

export const fieldPlanSchema = z
  .object({
    entity: z.string(),
    changeTracking: z.boolean(),
    synced: z.array(z.string()),
    pushable: z.array(z.string()),
    excluded: z.array(z.object({ field: z.string(), reason: z.string(), detail: z.string().optional() })),
    unknown: z.array(z.string()),
  })
  .meta({ id: 'FieldPlan' });

/** A page of a list; `next` is the cursor for `after`, null at the end. */
export const pageOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), next: z.union([z.string(), z.number()]).nullable() });

export const entityParamSchema = z.object({
  entity: z.string().min(1).meta({ param: { name: 'entity', in: 'path' }, example: 'contact' }),
});

const booleanText = z.enum(['true', 'false']).transform((v) => v === 'true');

export const logQuerySchema = z.object({
  entity: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(1_000).default(50),
  after: z.coerce.number().int().min(0).optional().meta({ description: 'Cursor: the `next` of the previous page.' }),
  latest: booleanText.optional().meta({ description: 'true: the last `limit` entries, newest first (no paging).' }),
});

export const jsonErrorResponses = {
  400: { description: 'Invalid input (nothing changed)', content: { 'application/json': { schema: errorSchema } } },
  401: { description: 'Missing or wrong bearer token', content: { 'application/json': { schema: errorSchema } } },
} as const;

export { booleanText };
