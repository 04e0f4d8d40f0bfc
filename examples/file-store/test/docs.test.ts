import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The README and the guide tell a store author how many lines this example took: keep that true.
const packageDir = fileURLToPath(new URL('..', import.meta.url));
const lines = (file: string) => readFileSync(`${packageDir}/${file}`, 'utf8').split('\n').length - 1;

/** The `| file | lines |` rows of a markdown table: [file, lines]. */
function countedFiles(markdown: string): [string, number][] {
  return [...markdown.matchAll(/^\| (?:\[|`)((?:src|test)\/[\w.-]+\.ts)(?:\]\([^)]*\)|`) \| (\d+) \|/gm)].map((m) => [m[1] as string, Number(m[2])]);
}

describe('line counts in the docs', () => {
  it.each([['README.md'], ['../../docs/write-a-store.md']])('%s gives each file its real number of lines', (doc) => {
    const rows = countedFiles(readFileSync(`${packageDir}/${doc}`, 'utf8'));
    expect(rows.map(([file]) => file)).toEqual(expect.arrayContaining(['src/file-store.ts', 'src/index.ts', 'test/conformance.test.ts']));
    expect(rows).toEqual(rows.map(([file]) => [file, lines(file)]));
  });
});
