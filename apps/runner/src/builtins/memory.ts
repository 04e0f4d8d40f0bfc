import * as z from 'zod';
import { defineStorePlugin } from '@crm-sync/core';
import { createMemoryStore } from '@crm-sync/memory-store';

/** Everything in this process, gone at exit: the demo and tests. */
export const memoryPlugin = defineStorePlugin({
  type: 'store',
  name: 'memory',
  description: 'in this process; forgets everything at exit (the demo, tests)',
  options: z.strictObject({}),
  capabilities: { persistent: false, leases: true },
  describe: () => 'memory (in this process)',
  open: async () => createMemoryStore(),
  health: async () => ({ status: 'pass', detail: 'memory store (in this process, nothing to reach)' }),
});
