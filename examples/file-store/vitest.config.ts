import { defineConfig } from 'vitest/config';
import { vitestConfig } from '@crm-sync/vitest-config';

// The runner test spawns the real runner process, which starts its own simulator.
export default defineConfig(vitestConfig({ testTimeout: 120_000, hookTimeout: 120_000 }));
