/**
 * The one build setting of every library: ESM only, declarations, Node 20.
 * A package's tsup.config.ts spreads it and adds only its `entry`.
 * @type {import('tsup').Options}
 */
export const baseTsupConfig = {
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  // CRM_SYNC_BUILD_DTS=0 skips declarations (the bench runs the built runner only; turbo hashes the
  // variable, so such a build is never taken from the cache for a full one).
  dts: process.env.CRM_SYNC_BUILD_DTS !== '0',
  clean: true,
  sourcemap: true,
  splitting: false,
};
