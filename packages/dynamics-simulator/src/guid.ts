import { hash32 } from './random.js';

const hex = (value: number, width: number): string => value.toString(16).padStart(width, '0').slice(-width);

/** A stable GUID derived from names (used for MetadataIds, org and business unit ids). */
export function nameGuid(...parts: ReadonlyArray<string | number>): string {
  const a = hash32(...parts, 'a');
  const b = hash32(...parts, 'b');
  const c = hash32(...parts, 'c');
  const d = hash32(...parts, 'd');
  const variant = (8 + (c & 3)).toString(16);
  return `${hex(a, 8)}-${hex(b >>> 16, 4)}-4${hex(b & 0xfff, 3)}-${variant}${hex((c >>> 4) & 0xfff, 3)}-${hex(c >>> 20, 4)}${hex(d, 8)}`;
}

const MAX_INDEX = 2 ** 48;

/**
 * The id of generated row `index` of a table. The index sits in the last 12 hex digits, so the id
 * can be mapped back to its row without any lookup table, and ids sort like their indexes
 * (Dataverse's default order is by primary key).
 */
export function rowGuid(seed: number, tableOrdinal: number, index: number): string {
  return rowGuidPrefix(seed, tableOrdinal) + indexHex(index);
}

const BYTE_HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** The last 12 hex digits of a generated row id (the index). Hot: every generated row and lookup calls it. */
export function indexHex(index: number): string {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_INDEX) throw new RangeError(`Row index out of range: ${index}`);
  const high = Math.floor(index / 2 ** 24);
  const low = index - high * 2 ** 24;
  return BYTE_HEX[high >>> 16]! + BYTE_HEX[(high >>> 8) & 255]! + BYTE_HEX[high & 255]! + BYTE_HEX[low >>> 16]! + BYTE_HEX[(low >>> 8) & 255]! + BYTE_HEX[low & 255]!;
}

/** The row index encoded in a generated id, or undefined if the id was not generated for this table. */
export function rowIndexFromGuid(guid: string, seed: number, tableOrdinal: number): number | undefined {
  const lower = guid.toLowerCase();
  const prefix = rowGuidPrefix(seed, tableOrdinal);
  if (lower.length !== 36 || !lower.startsWith(prefix)) return undefined;
  const tail = lower.slice(prefix.length);
  if (!/^[0-9a-f]{12}$/.test(tail)) return undefined;
  return parseInt(tail.slice(0, 6), 16) * 2 ** 24 + parseInt(tail.slice(6), 16);
}

const prefixCache = new Map<string, string>();

/** The part of a generated row id shared by every row of a table (seed and table). */
export function rowGuidPrefix(seed: number, tableOrdinal: number): string {
  const key = `${seed}:${tableOrdinal}`;
  let prefix = prefixCache.get(key);
  if (prefix === undefined) {
    const a = hash32(seed, 'row-id', tableOrdinal);
    const b = hash32(seed, 'row-id-2', tableOrdinal);
    prefix = `${hex(a, 8)}-${hex(b >>> 16, 4)}-4${hex(b & 0xfff, 3)}-${(8 + (a & 3)).toString(16)}${hex(b >>> 20, 3)}-`;
    prefixCache.set(key, prefix);
  }
  return prefix;
}

export const GUID_PATTERN = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export function isGuid(value: string): boolean {
  return GUID_PATTERN.test(value);
}
