import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { builtInPlugins } from '../src/builtins/index.js';
import { loadConfig } from '../src/config/load.js';
import { writeConfig } from './helpers/runner-process.js';

const root = dirname(dirname(fileURLToPath(import.meta.url)));

const failure = async (fn: () => Promise<unknown>): Promise<string> => {
  try {
    await fn();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected a failure');
};

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** A plugin module next to a config file, as a user writes one (plain ESM, zod from the runner's own dependencies). */
function pluginFile(dir: string, name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, body);
  return path;
}

const zodUrl = new URL(import.meta.resolve('zod')).href;

describe('plugins', () => {
  it('the runner names no implementation outside its registry of built-ins', () => {
    const implementations = Object.keys(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).dependencies as Record<string, string>)
      .filter((name) => name.startsWith('@crm-sync/') && name !== '@crm-sync/core');
    expect(implementations.length).toBeGreaterThan(0);
    const names = builtInPlugins.map((p) => p.name);
    const literal = new RegExp(`['"\`](${names.join('|')})['"\`]`);
    const files = [...filesUnder(join(root, 'src')), ...filesUnder(join(root, 'dashboard'))]
      .filter((file) => /\.(ts|js)$/.test(file) && !relative(root, file).startsWith(join('src', 'builtins')));
    expect(files.length).toBeGreaterThan(20);
    const offences = files.flatMap((file) =>
      readFileSync(file, 'utf8').split('\n').flatMap((line, i) => {
        const where = `${relative(root, file)}:${i + 1}: ${line.trim()}`;
        return implementations.some((pkg) => line.includes(`'${pkg}`)) || literal.test(line) ? [where] : [];
      }));
    expect(offences).toEqual([]);
  });

  it('loads a store plugin a config lists, validates its options with its schema, and selects it by kind', async () => {
    const config = writeConfig({ plugins: ['./box-store.mjs'], store: { kind: 'box', size: 3 } });
    pluginFile(dirname(config), 'box-store.mjs', `
      import * as z from '${zodUrl}';
      export default {
        type: 'store', name: 'box', description: 'a test store',
        options: z.strictObject({ size: z.number().int().min(1) }),
        capabilities: { persistent: true, leases: false },
        describe: (o) => 'box of ' + o.size,
        open: async () => { throw new Error('not opened in this test'); },
      };`);
    const loaded = await loadConfig({ path: config, env: {} });
    expect(loaded.plugins.store.name).toBe('box');
    expect(loaded.config.store).toEqual({ kind: 'box', size: 3 });
    expect(loaded.plugins.registry.origin(loaded.plugins.store)).toBe('./box-store.mjs');

    const bad = writeConfig({ plugins: ['./box-store.mjs'], store: { kind: 'box', size: 0, colour: 'red' } });
    pluginFile(dirname(bad), 'box-store.mjs', readFileSync(join(dirname(config), 'box-store.mjs'), 'utf8'));
    const message = await failure(() => loadConfig({ path: bad, env: {} }));
    expect(message).toContain('store.size: ');
    expect(message).toContain('store: unknown key "colour"; known keys: kind, size');
  });

  it('loads a plugin from a package directory through its package.json', async () => {
    const config = writeConfig({ plugins: ['./box'], store: { kind: 'box', size: 1 } });
    mkdirSync(join(dirname(config), 'box', 'dist'), { recursive: true });
    writeFileSync(join(dirname(config), 'box', 'package.json'), JSON.stringify({ name: 'box', type: 'module', main: './dist/index.js' }));
    pluginFile(join(dirname(config), 'box', 'dist'), 'index.js', `
      import * as z from '${zodUrl}';
      export default { type: 'store', name: 'box', description: 'x', options: z.strictObject({ size: z.number() }), capabilities: { persistent: false, leases: false }, describe: () => 'box', open: async () => null };`);
    expect((await loadConfig({ path: config, env: {} })).plugins.store.name).toBe('box');
  });

  it('adds the entities a CRM plugin contributes to the registry; the config\'s custom entities win by name', async () => {
    const config = writeConfig({
      plugins: ['./crm.mjs'],
      crm: { kind: 'tables' },
      sync: { customEntities: [{ name: 'new_course', syncFilterField: null }] },
    });
    pluginFile(dirname(config), 'crm.mjs', `
      import * as z from '${zodUrl}';
      export default {
        type: 'crm', name: 'tables', description: 'x', options: z.strictObject({}), describe: () => 'tables',
        connect: async () => { throw new Error('not connected in this test'); },
        entities: [{ name: 'new_ticket' }, { name: 'new_course' }],
      };`);
    const { config: loaded } = await loadConfig({ path: config, env: {} });
    expect(loaded.sync.customEntities.map((e) => [e.name, e.syncFilterField === undefined ? 'default' : e.syncFilterField])).toEqual([['new_ticket', 'default'], ['new_course', null]]);
    // The entity is known to the rest of the config, as a built-in would be.
    const selected = writeConfig({ plugins: ['./crm.mjs'], crm: { kind: 'tables' }, sync: { entities: { new_ticket: { enabled: false } } } });
    pluginFile(dirname(selected), 'crm.mjs', readFileSync(join(dirname(config), 'crm.mjs'), 'utf8'));
    expect((await loadConfig({ path: selected, env: {} })).config.sync.entities.new_ticket?.enabled).toBe(false);
  });

  it('names the plugin entry that cannot be loaded, is not a definition, or takes a built-in name', async () => {
    const config = writeConfig({ plugins: ['./missing.mjs', './not-a-plugin.mjs', './twice.mjs'] });
    pluginFile(dirname(config), 'not-a-plugin.mjs', 'export default { hello: 1 };');
    pluginFile(dirname(config), 'twice.mjs', `
      import * as z from '${zodUrl}';
      export default { type: 'store', name: 'memory', description: 'x', options: z.strictObject({}), capabilities: { persistent: false, leases: false }, describe: () => 'x', open: async () => null };`);
    const message = await failure(() => loadConfig({ path: config, env: {} }));
    expect(message).toMatch(/plugins\.0: cannot load \.\/missing\.mjs: no such file/);
    expect(message).toMatch(/plugins\.1: the default export of \.\/not-a-plugin\.mjs has no type "crm" or "store"/);
    expect(message).toMatch(/plugins\.2: \.\/twice\.mjs defines the store plugin "memory", already defined \(built in\)/);
  });

  it('lists the known plugins, with where each comes from, for an unknown kind', async () => {
    const message = await failure(() => loadConfig({ path: writeConfig({ store: { kind: 'memroy' } }), env: {} }));
    expect(message).toContain('store.kind: unknown store "memroy"; did you mean "memory"?');
    expect(message).toContain(`known: ${builtInPlugins.filter((p) => p.type === 'store').map((p) => p.name).join(', ')}`);
  });
});
