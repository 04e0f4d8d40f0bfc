import * as z from 'zod';
import { formatIssues, SyncError } from '@crm-sync/core';

/**
 * Checkpoints are versioned JSON. Four modes:
 * - `tracking-snapshot`: inside the initial change-tracking read; `next` resumes at the page after
 *   the last committed one, in the same snapshot.
 * - `tracking-ranges`: inside a parallel initial load; `from` is where its key-only tracked read
 *   restarts (every range before it was yielded in full), in the same snapshot.
 * - `delta`: `link` is the deltaLink (or, inside a delta of many pages, its nextLink).
 * - `watermark`: tables without change tracking; `modifiedon` watermark, the rows seen in the
 *   overlap window, and, inside a read, the nextLink and the snapshot id when it is a full read.
 */
const fields = z.array(z.string()).max(5_000);

const trackingSnapshot = z.strictObject({
  v: z.literal(1),
  entity: z.string(),
  mode: z.literal('tracking-snapshot'),
  snapshot: z.string().min(1),
  next: z.string().min(1),
  fields,
});

const trackingRanges = z.strictObject({
  v: z.literal(1),
  entity: z.string(),
  mode: z.literal('tracking-ranges'),
  snapshot: z.string().min(1),
  /** Link of the spine page of the earliest range not yet yielded in full (or the spine's next page); null = the table's start. */
  from: z.string().min(1).nullable(),
  /** Keys per spine page: its links are followed with the page size they were issued for. */
  size: z.number().int().min(1).max(5_000),
  fields,
});

const delta = z.strictObject({
  v: z.literal(1),
  entity: z.string(),
  mode: z.literal('delta'),
  link: z.string().min(1),
  fields,
  /** The link was issued for another $select (a parallel load's key-only read): ours goes on it until an answer shows it honoured. */
  check: z.literal(true).optional(),
});

const watermark = z.strictObject({
  v: z.literal(1),
  entity: z.string(),
  mode: z.literal('watermark'),
  fields,
  /** Highest modifiedon seen (ISO), null before the first full read. */
  modifiedon: z.iso.datetime({ offset: true }).nullable(),
  /** [id, version, modifiedon] of rows seen at or after watermark minus overlap. */
  recent: z.array(z.tuple([z.string(), z.string(), z.string()])),
  next: z.string().min(1).nullable(),
  snapshot: z.string().min(1).nullable(),
  /** Incremental reads since the last full read (every Nth read is a full one). */
  pulls: z.number().int().min(0),
});

const checkpointSchema = z.discriminatedUnion('mode', [trackingSnapshot, trackingRanges, delta, watermark]);

export type Checkpoint = z.infer<typeof checkpointSchema>;
export type RangesCheckpoint = z.infer<typeof trackingRanges>;
export type WatermarkCheckpoint = z.infer<typeof watermark>;

export function encodeCheckpoint(checkpoint: Checkpoint): string {
  return JSON.stringify(checkpoint);
}

/** Parses a checkpoint of this entity; anything else is CHECKPOINT_INVALID (the caller starts over). */
export function decodeCheckpoint(text: string, entity: string): Checkpoint {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new SyncError('CHECKPOINT_INVALID', `[dynamics-adapter] Checkpoint of ${entity} is not JSON; starting a full read`, { cause: error });
  }
  const parsed = checkpointSchema.safeParse(json);
  if (!parsed.success) {
    const issues = formatIssues(parsed.error.issues, 'checkpoint');
    throw new SyncError('CHECKPOINT_INVALID', `[dynamics-adapter] Checkpoint of ${entity} has an unknown format; starting a full read`, {
      details: { entity, issues },
    });
  }
  if (parsed.data.entity !== entity) {
    throw new SyncError(
      'CHECKPOINT_INVALID',
      `[dynamics-adapter] Checkpoint belongs to ${parsed.data.entity}, not ${entity}; starting a full read`,
      { details: { entity, checkpointEntity: parsed.data.entity } },
    );
  }
  return parsed.data;
}
