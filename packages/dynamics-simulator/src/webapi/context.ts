import type { Org } from '../org.js';
import type { Preferences } from '../odata/prefer.js';
import type { BulkRuntime } from './bulk.js';

/** What every Web API operation sees. */
export interface WebApiContext {
  org: Org;
  userId: string;
  method: string;
  url: URL;
  headers: Headers;
  /** Request body as text ('' when none). */
  body: string;
  /** `<origin>/api/data/v9.2/` of the request, used in links and @odata.context. */
  serviceRoot: string;
  preferences: Preferences;
  /** Work done, fed to the execution-time cost model. */
  usage: { rows: number; columnValues: number; writes: number; operations: number };
  /** Inside a $batch change set: Content-ID to entity URL. */
  contentIds?: Map<string, string>;
  /** Bulk messages (CreateMultiple, UpdateMultiple): support per table, records held. Absent inside $batch. */
  bulk?: BulkRuntime;
}
