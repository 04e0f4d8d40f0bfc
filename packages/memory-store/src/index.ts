export { createMemoryStore, createMemoryStoreData } from './memory-store.js';
export type { MemoryStoreData, MemoryStoreOptions } from './memory-store.js';
