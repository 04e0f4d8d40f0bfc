export { connectPostgresStore, createPostgresStore } from './postgres-store.js';
export type { ConnectOptions, PostgresStoreOptions } from './postgres-store.js';
export { migrate, migrations } from './migrations.js';
export { poolDriver } from './pool-driver.js';
export type { PoolDriverOptions } from './pool-driver.js';
export { createSqlStore } from './sql-store.js';
export type { SqlStoreOptions } from './sql-store.js';
export type { SqlDriver, SqlResult, SqlSession, SqlStatement } from './sql.js';
