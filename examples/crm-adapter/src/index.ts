export { createMemoryCrm, field, SALES_USER, SYNC_USER } from './memory-crm.js';
export type { MemoryCrm } from './memory-crm.js';
export { memoryCrmPlugin } from './plugin.js';
// The runner loads a plugin module's default export (its `plugins` config list).
export { memoryCrmPlugin as default } from './plugin.js';
