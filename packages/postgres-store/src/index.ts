export { connectPostgresStore, createPostgresStore } from './postgres-store.js';
export type { ConnectOptions, PostgresStoreOptions } from './postgres-store.js';
export { migrate, migrations } from './migrations.js';
