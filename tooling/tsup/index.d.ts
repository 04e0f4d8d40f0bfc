import type { Options } from 'tsup';
/** ESM, declarations, Node 20; spread it and add `entry`. */
export declare const baseTsupConfig: Options;
