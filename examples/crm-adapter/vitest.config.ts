import { defineConfig } from 'vitest/config';
import { vitestConfig } from '@crm-sync/vitest-config';

export default defineConfig(vitestConfig());
