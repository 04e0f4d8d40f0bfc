import type { ViteUserConfig } from 'vitest/config';
/** Shared vitest settings; `test` overrides merge over the defaults. */
export declare function vitestConfig(test?: ViteUserConfig['test']): ViteUserConfig;
