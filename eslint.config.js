import js from '@eslint/js';
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

/**
 * Module boundaries, by the nx tags in each package.json:
 * core depends on nothing of ours (shared build and test config aside); stores and the adapter only on
 * core (their tests also on the testkit and the simulator); the simulator on nothing;
 * the testkit on core; the examples (examples/*) on the public API of core and the store testkit, as a
 * plugin outside the repository would; the runner and the end-to-end tests on anything; nothing
 * depends on them.
 * `pnpm lint` runs `nx show projects` first: without a cached project graph the rule skips silently.
 */
export const boundaryConstraints = [
  { sourceTag: 'type:core', onlyDependOnLibsWithTags: ['type:tooling'] },
  { sourceTag: 'type:store', onlyDependOnLibsWithTags: ['type:core', 'type:testkit', 'type:tooling'] },
  { sourceTag: 'type:adapter', onlyDependOnLibsWithTags: ['type:core', 'type:simulator', 'type:tooling'] },
  { sourceTag: 'type:simulator', onlyDependOnLibsWithTags: ['type:tooling'] },
  { sourceTag: 'type:testkit', onlyDependOnLibsWithTags: ['type:core', 'type:tooling'] },
  { sourceTag: 'type:tooling', onlyDependOnLibsWithTags: ['type:tooling'] },
  { sourceTag: 'type:example', onlyDependOnLibsWithTags: ['type:core', 'type:testkit', 'type:tooling'] },
  {
    sourceTag: 'type:e2e',
    onlyDependOnLibsWithTags: ['type:core', 'type:store', 'type:adapter', 'type:simulator', 'type:testkit', 'type:tooling'],
  },
  {
    sourceTag: 'type:app',
    onlyDependOnLibsWithTags: ['type:core', 'type:store', 'type:adapter', 'type:simulator', 'type:tooling'],
  },
];

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/.turbo/**', '**/.nx/**', '**/coverage/**', 'docs/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.{ts,js,mjs}'],
    plugins: { '@nx': nx },
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        { enforceBuildableLibDependency: false, allow: [], depConstraints: boundaryConstraints },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
);
