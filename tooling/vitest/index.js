import { defaultServerConditions } from 'vite';

/**
 * Vitest settings shared by every package.
 * - Workspace packages resolve to their `src/` through the `@crm-sync/source` export condition,
 *   so tests never need a prior build.
 * - Other packages resolve as Node resolves them at run time: without the bundlers' `module`
 *   condition, whose builds (e.g. `@opentelemetry/api`'s ESM build) Node itself cannot load.
 * - Each run writes `.test-report.json`, which `pnpm test` adds up into one `N passed, N failed` line.
 * @param {import('vitest/config').ViteUserConfig['test']} [test] overrides for this package
 * @returns {import('vitest/config').ViteUserConfig}
 */
export function vitestConfig(test = {}) {
  const conditions = ['@crm-sync/source', ...defaultServerConditions.filter((c) => c !== 'module')];
  return {
    resolve: { conditions },
    ssr: { resolve: { conditions } },
    test: {
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      reporters: ['default', ['json', { outputFile: '.test-report.json' }]],
      testTimeout: 20_000,
      ...test,
    },
  };
}
