export interface ThrowawayPostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  /** Shuts the server down and deletes its folder (no-op for an external DATABASE_URL). */
  stop(): void;
}
/** Starts a throwaway PostgreSQL server on 127.0.0.1 with the Debian binaries. */
export function startThrowawayPostgres(): ThrowawayPostgres;
/** DATABASE_URL when set, else a throwaway server; fails with a message saying how to fix it. */
export function postgresForTests(): ThrowawayPostgres;
/** In a test worker: the URL of the run's PostgreSQL server (set by the vitest-setup globalSetup). */
export function testDatabaseUrl(): string;
