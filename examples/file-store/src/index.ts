import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import * as z from 'zod';
import { defineStorePlugin } from '@crm-sync/core';
import type { PluginContext } from '@crm-sync/core';
import { openFileStore } from './file-store.js';

export { openFileStore } from './file-store.js';
export type { FileStoreOptions } from './file-store.js';

const NAME_A_FILE = 'must name the JSON file (e.g. "./crm-sync-data.json")';
const options = z.strictObject({
  /** The JSON file; a relative path is resolved against the config file's directory. */
  path: z.string({ error: NAME_A_FILE }).min(1, NAME_A_FILE),
});

const fileOf = (cfg: z.output<typeof options>, context: PluginContext) => resolve(context.baseDir, cfg.path);

/** Selected in a runner's config with `"store": { "kind": "file", "path": "./data.json" }`. */
export default defineStorePlugin({
  type: 'store',
  name: 'file',
  description: 'one JSON file, rewritten after each commit (an example store: one process, small data)',
  options,
  capabilities: { persistent: true, leases: false },
  describe: (cfg) => `file ${cfg.path}`,
  open: (cfg, context) => openFileStore({ path: fileOf(cfg, context) }),
  async health(cfg, context) {
    const path = fileOf(cfg, context);
    const hint = `Check that ${dirname(path)} exists and that this user may create and replace files in it; a damaged file must be restored or moved away.`;
    try {
      // Each commit writes a temp file beside the data file and renames it over: the directory must be writable.
      await access(dirname(path), constants.W_OK);
      const exists = await access(path).then(() => true, () => false);
      if (!exists) return { status: 'pass', detail: `${path} does not exist yet; the first commit creates it` };
      await access(path, constants.R_OK | constants.W_OK);
      await (await openFileStore({ path })).close(); // reads it whole: a damaged file fails here
      return { status: 'pass', detail: `${path} is readable and writable` };
    } catch (error) {
      return { status: 'fail', detail: (error as Error).message, hint };
    }
  },
});
