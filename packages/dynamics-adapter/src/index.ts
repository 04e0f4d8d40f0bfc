export { createDynamicsAdapter } from './adapter.js';
export { adapterOptionsSchema, parseOptions } from './options.js';
export type { AuthOptions, DynamicsAdapterOptions, FetchLike, ResolvedOptions } from './options.js';
export type { AdapterEvent } from './events.js';
export { fetchNetworkModule } from './auth.js';
