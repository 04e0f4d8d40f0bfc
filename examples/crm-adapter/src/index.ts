export { createMemoryCrm, field, SALES_USER, SYNC_USER } from './memory-crm.js';
export type { MemoryCrm } from './memory-crm.js';
