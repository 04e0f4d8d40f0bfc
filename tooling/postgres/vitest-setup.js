import { postgresForTests } from './index.js';

/**
 * A vitest globalSetup: one PostgreSQL server for the whole test run (or DATABASE_URL). Its URL
 * reaches the test workers as CRM_SYNC_TEST_DATABASE_URL (read it with `testDatabaseUrl()`).
 * Fails the run with a message saying how to fix it if no server can be started; never skips.
 */
export default function setup() {
  const pg = postgresForTests();
  process.env.CRM_SYNC_TEST_DATABASE_URL = pg.url;
  return () => pg.stop();
}
