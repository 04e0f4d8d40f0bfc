import js from '@eslint/js';
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

/**
 * Module boundaries, by the nx tags in each package.json:
 * core depends on nothing of ours (shared build and test config aside); stores and the adapter only on
 * core (their tests also on the testkit and the simulator); the simulator on nothing;
 * the testkits on core; the examples (examples/*) on the public API of core and the testkits, as a
 * plugin outside the repository would; the runner and the end-to-end tests on anything; nothing
 * depends on them.
 * `pnpm lint` runs `nx show projects` first: without a cached project graph the rule skips silently.
 */
export const boundaryConstraints = [
  { sourceTag: 'type:core', onlyDependOnLibsWithTags: ['type:tooling'] },
  { sourceTag: 'type:store', onlyDependOnLibsWithTags: ['type:core', 'type:testkit', 'type:tooling'] },
  { sourceTag: 'type:adapter', onlyDependOnLibsWithTags: ['type:core', 'type:simulator', 'type:testkit', 'type:tooling'] },
  { sourceTag: 'type:simulator', onlyDependOnLibsWithTags: ['type:tooling'] },
  { sourceTag: 'type:testkit', onlyDependOnLibsWithTags: ['type:core', 'type:tooling'] },
  // Examples stand for code outside the repository: the public API of core and the testkits only.
  { sourceTag: 'type:example', onlyDependOnLibsWithTags: ['type:core', 'type:testkit', 'type:tooling'] },
  { sourceTag: 'type:tooling', onlyDependOnLibsWithTags: ['type:tooling'] },
  {
    sourceTag: 'type:e2e',
    onlyDependOnLibsWithTags: ['type:core', 'type:store', 'type:adapter', 'type:simulator', 'type:testkit', 'type:example', 'type:tooling'],
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
  {
    // An example stands for a project outside the repository: each package's public entry, nothing deeper.
    files: ['examples/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['@crm-sync/*/*'], message: 'Import the package itself (its public API), not a file inside it.' }] }],
    },
  },
);
