import type { CrmAdapter } from '@crm-sync/core';
import { createTokenProvider } from './auth.js';
import { safeSink } from './events.js';
import { createHttpClient } from './http.js';
import { createMetadataService } from './metadata.js';
import { parseOptions } from './options.js';
import type { DynamicsAdapterOptions, FetchLike } from './options.js';
import { createPageReader } from './pages.js';
import { createPuller } from './pull.js';
import { createRedactor } from './redact.js';
import { createSchemaFeed } from './schema-changes.js';
import { createWriter } from './write.js';

/**
 * The Dataverse (Dynamics 365) implementation of core's CrmAdapter. Options are validated first:
 * bad ones throw CONFIG_INVALID naming each path.
 */
export function createDynamicsAdapter(input: DynamicsAdapterOptions): CrmAdapter {
  const options = parseOptions(input);
  const emit = safeSink(options.onEvent);
  const redactor = createRedactor();
  // Late-bound so tests that install a fetch mock after creating the adapter still reach it.
  const fetchFn: FetchLike = options.fetch ?? ((url, init) => globalThis.fetch(url, init));
  const tokens = createTokenProvider({ auth: options.auth, environmentUrl: options.environmentUrl, fetch: fetchFn, redactor, emit });
  const http = createHttpClient({ options, fetch: fetchFn, tokens, redactor, emit });
  const metadata = createMetadataService(http, options.metadataMaxAgeMs);
  const reader = createPageReader({ http, emit, readAhead: options.readAhead });
  const puller = createPuller({ http, metadata, reader, options, emit });
  const writer = createWriter({ http, metadata, options, emit });
  const schemaFeed = createSchemaFeed(http, metadata);

  return {
    name: 'dynamics',
    // With bulk messages a call's writes become chunks of bulk.size (CreateMultiple, UpdateMultiple);
    // without, $batch requests of batchSize, as many per call as before.
    capabilities: { incrementalPull: true, batchWrites: true, createWithClientId: true, writesPerCall: options.bulk.enabled ? options.bulk.size : 100 },
    whoAmI: () => metadata.whoAmI(),
    describeEntity: async (entity, describeOptions) => (await metadata.describe(entity, describeOptions?.signal, describeOptions?.fresh)).schema,
    schemaChanges: (entities, changeOptions) => schemaFeed.changes(entities, changeOptions?.signal),
    pullChanges: (entity, request) => puller.pullChanges(entity, request),
    readAll: (entity, request) => puller.readAll(entity, request),
    readRecords: (entity, request) => puller.readRecords(entity, request),
    updateRecords: (entity, updates) => writer.updateRecords(entity, updates),
    createRecords: (entity, creates) => writer.createRecords(entity, creates),
    // Several runners on one org: each takes its share of x-ms-dop-hint.
    shareParallelism: (runners) => http.share(runners),
    // Nothing to release: fetch manages its own connections and no timers outlive a call.
    close: async () => {},
  };
}
