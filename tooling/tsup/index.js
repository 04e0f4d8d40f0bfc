/**
 * The one build setting of every library: ESM only, declarations, Node 20.
 * A package's tsup.config.ts spreads it and adds only its `entry`.
 * @type {import('tsup').Options}
 */
export const baseTsupConfig = {
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  dts: true,
  clean: true,
  sourcemap: true,
  splitting: false,
};
