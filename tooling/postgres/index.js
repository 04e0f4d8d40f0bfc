import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('./start-postgres.sh', import.meta.url));

/**
 * Starts a throwaway PostgreSQL server on 127.0.0.1 (see start-postgres.sh) and returns its URL
 * and a stop function that shuts it down and deletes its files.
 */
export function startThrowawayPostgres() {
  let out;
  try {
    out = execFileSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const detail = error && typeof error === 'object' && 'stderr' in error ? String(error.stderr) : String(error);
    throw new Error(
      `Could not start a throwaway PostgreSQL server: ${detail.trim()}\n` +
        'Fix: install the server binaries (Debian: apt-get install -y postgresql-15), or set DATABASE_URL to a reachable server.',
      { cause: error },
    );
  }
  const url = /^DATABASE_URL=(.+)$/m.exec(out)?.[1];
  const dir = /^PGTMP=(.+)$/m.exec(out)?.[1];
  if (!url || !dir) throw new Error(`start-postgres.sh printed no DATABASE_URL:\n${out}`);
  return {
    url,
    stop() {
      execFileSync('bash', [script, '--stop', dir], { stdio: 'ignore' });
    },
  };
}

/**
 * The database URL tests should use: DATABASE_URL when set, else a throwaway server.
 * The returned stop() is a no-op for an external server.
 */
export function postgresForTests() {
  const external = process.env.DATABASE_URL;
  if (external) return { url: external, stop() {} };
  return startThrowawayPostgres();
}

/** In a test worker: the URL of the run's PostgreSQL server (see vitest-setup.js). */
export function testDatabaseUrl() {
  const url = process.env.CRM_SYNC_TEST_DATABASE_URL;
  if (!url) {
    throw new Error(
      "No test database: add '@crm-sync/postgres-tooling/vitest-setup' to the vitest globalSetup of this package.",
    );
  }
  return url;
}
