import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const RULE = '@nx/enforce-module-boundaries';
let eslint;

// The rule reads nx's cached project graph and silently skips without one, so build it first.
beforeAll(() => {
  execFileSync('pnpm', ['exec', 'nx', 'show', 'projects'], {
    cwd: root,
    env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' },
    stdio: 'ignore',
  });
  eslint = new ESLint({ cwd: root });
}, 120_000);

/** Lints `code` as if it were the file at `path` (nothing is written to the tree). */
async function boundaryErrors(path, code) {
  const [result] = await eslint.lintText(code, { filePath: `${root}/${path}` });
  return result.messages.filter((m) => m.ruleId === RULE).map((m) => m.message);
}

describe('module boundaries (eslint.config.js)', () => {
  it('fails when core imports a store', async () => {
    const errors = await boundaryErrors(
      'packages/core/src/planted.ts',
      "import { createMemoryStore } from '@crm-sync/memory-store';\nexport const planted = createMemoryStore;\n",
    );
    expect(errors.length).toBeGreaterThan(0);
  });

  it('fails when core imports the simulator, naming the tag rule', async () => {
    const errors = await boundaryErrors(
      'packages/core/src/planted.ts',
      "import * as sim from '@crm-sync/dynamics-simulator';\nexport const planted = sim;\n",
    );
    expect(errors.join('\n')).toMatch(/tagged with "type:core" can only depend on libs tagged with "type:tooling"/);
  });

  it('fails when the simulator imports core (it depends on nothing of ours)', async () => {
    const errors = await boundaryErrors(
      'packages/dynamics-simulator/src/planted.ts',
      "import { mergeRecord } from '@crm-sync/core';\nexport const planted = mergeRecord;\n",
    );
    expect(errors.join('\n')).toMatch(/tagged with "type:simulator" can only depend on libs tagged with "type:tooling"/);
  });

  it('fails when the conformance suite imports a store', async () => {
    const errors = await boundaryErrors(
      'packages/store-testkit/src/planted.ts',
      "import { createMemoryStore } from '@crm-sync/memory-store';\nexport const planted = createMemoryStore;\n",
    );
    expect(errors.length).toBeGreaterThan(0);
  });

  it('fails on a relative import into another package', async () => {
    const errors = await boundaryErrors(
      'packages/memory-store/src/planted.ts',
      "import { mergeRecord } from '../../core/src/index.js';\nexport const planted = mergeRecord;\n",
    );
    expect(errors.length).toBeGreaterThan(0);
  });

  it('fails when an example imports an implementation (it stands for code outside the repository)', async () => {
    const errors = await boundaryErrors(
      'examples/crm-adapter/src/planted.ts',
      "import { createDynamicsAdapter } from '@crm-sync/dynamics-adapter';\nexport const planted = createDynamicsAdapter;\n",
    );
    expect(errors.join('\n')).toMatch(/tagged with "type:example" can only depend on libs tagged with/);
  });

  it('fails when an example imports a file inside core instead of its public API', async () => {
    const [result] = await eslint.lintText("import { mergeRecord } from '@crm-sync/core/src/index.js';\nexport const planted = mergeRecord;\n", {
      filePath: `${root}/examples/crm-adapter/src/planted.ts`,
    });
    expect(result.messages.map((m) => m.ruleId)).toContain('no-restricted-imports');
  });

  it('fails when an example imports a package other than core and the testkit, or reaches into core\'s sources', async () => {
    const store = await boundaryErrors(
      'examples/file-store/src/planted.ts',
      "import { createMemoryStore } from '@crm-sync/memory-store';\nexport const planted = createMemoryStore;\n",
    );
    expect(store.join('\n')).toMatch(/tagged with "type:example" can only depend on libs tagged with/);
    const deep = await boundaryErrors(
      'examples/file-store/src/planted.ts',
      "import { defineStore } from '../../../packages/core/src/store/define-store.js';\nexport const planted = defineStore;\n",
    );
    expect(deep.length).toBeGreaterThan(0);
    expect(await boundaryErrors('examples/file-store/src/planted.ts', "import { defineStore } from '@crm-sync/core';\nexport const planted = defineStore;\n")).toEqual([]);
  });

  it('passes an allowed import (a store using core)', async () => {
    const errors = await boundaryErrors(
      'packages/memory-store/src/planted.ts',
      "import { mergeRecord } from '@crm-sync/core';\nexport const planted = mergeRecord;\n",
    );
    expect(errors).toEqual([]);
  });
});
