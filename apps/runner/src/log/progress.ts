import type { SyncEvent } from '@crm-sync/core';
import type { Logger } from './logger.js';

const number = new Intl.NumberFormat('en-US');

function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 60) return `${Math.ceil(seconds)}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

/** One progress line: pages, records, rate, and an ETA when the total is known. */
export function progressLine(input: { entity: string; pages: number; records: number; perSecond: number; total?: number | undefined }): string {
  const parts = [
    `${input.entity}: ${number.format(input.pages)} page${input.pages === 1 ? '' : 's'}`,
    `${number.format(input.records)}${input.total ? ` of ${number.format(input.total)}` : ''} records`,
    `${number.format(input.perSecond)} records/s`,
  ];
  if (input.total && input.perSecond > 0) {
    parts.push(`ETA ${duration(Math.max(input.total - input.records, 0) / input.perSecond)}`);
  }
  return parts.join(', ');
}

/**
 * Turns engine events into progress lines and log entries. `totals` gives an entity's row count
 * when it is known (the in-process simulator knows it), for the ETA of a first sync.
 */
export function createProgressReporter(logger: Logger, totals: (entity: string) => number | undefined = () => undefined) {
  return (event: SyncEvent): void => {
    switch (event.type) {
      case 'cycle-started':
        logger.info('cycle started', { entities: event.entities });
        break;
      case 'page-applied': {
        const total = totals(event.entity);
        logger.progress(
          progressLine({ entity: event.entity, pages: event.pages, records: event.pulled, perSecond: event.recordsPerSecond, total: total !== undefined && event.pulled <= total ? total : undefined }),
          { entity: event.entity, pages: event.pages, pulled: event.pulled, applied: event.applied, recordsPerSecond: event.recordsPerSecond },
        );
        break;
      }
      case 'backfill-progress':
        logger.progress(`${event.entity}: Quick Sync of ${event.fields.join(', ')}, ${number.format(event.records)} records`, {
          entity: event.entity, fields: event.fields, records: event.records,
        });
        break;
      case 'change-token-old':
        logger.endProgress();
        logger.warn('change token getting old', { entity: event.entity, detail: event.detail });
        break;
      case 'schema-drift':
        logger.endProgress();
        logger.warn('CRM schema changed', { entity: event.entity, detail: event.detail });
        break;
      case 'pushed':
        logger.endProgress();
        if (event.pushed + event.created + event.failed > 0) {
          logger.info('pushed to the CRM', { entity: event.entity, pushed: event.pushed, created: event.created, failed: event.failed });
        }
        break;
      case 'entity-failed':
        logger.endProgress();
        logger.error('entity failed', { entity: event.entity, code: event.code, error: event.message });
        break;
      case 'entity-finished': {
        logger.endProgress();
        const s = event.summary;
        const quiet = s.pulled === 0 && s.pushed === 0 && s.created === 0 && s.backfilled === 0 && s.status === 'ok';
        (quiet ? logger.debug : logger.info)('entity finished', {
          entity: s.entity, status: s.status, pages: s.pages, pulled: s.pulled, applied: s.applied, pushed: s.pushed,
          created: s.created, collisions: s.collisions, quarantined: s.quarantined, deleted: s.deleted, durationMs: s.durationMs,
        });
        break;
      }
      case 'cycle-finished':
        logger.endProgress();
        logger.info('cycle finished', {
          ok: event.summary.ok,
          // A graceful stop: not a failure, the next cycle goes on from the checkpoints.
          ...(event.summary.interrupted ? { interrupted: true } : {}),
          durationMs: event.summary.durationMs,
          pulled: event.summary.entities.reduce((n, e) => n + e.pulled, 0),
          pushed: event.summary.entities.reduce((n, e) => n + e.pushed + e.created, 0),
        });
        break;
    }
  };
}
