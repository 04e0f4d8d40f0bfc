import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from './workspace.js';

/**
 * `expect(list.every(...)).toBe(true)` passes on an empty list: it asserts nothing unless the list is
 * also counted. This finds such an assertion in a test file whose list is not counted in the lines
 * just before it, in the same test (the same expression, or the variable it starts with, with
 * toHaveLength, `.length).toBe...`, `.size).toBe` or a toEqual of its `.map`).
 * A heuristic: when it flags a list that cannot be empty, count it anyway (it documents the size), or
 * compare the mapped list with toEqual, which also names what differs when it fails.
 * Not checked: `expect(list.some(...)).toBe(false)`, usually "no such event/request", where an empty
 * list is the right answer; and literal arrays.
 */

/** Test code: *.test.ts anywhere, files under a test/ directory, and the store and adapter conformance suites. */
function testFiles(dir = root, out = []) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) testFiles(path, out);
    else if (/\.tsx?$/.test(entry.name)) {
      const rel = relative(root, path);
      if (/\.test\.tsx?$/.test(entry.name) || /(^|\/)test\//.test(rel) || /^packages\/(store|adapter)-testkit\/src\//.test(rel)) out.push(rel);
    }
  }
  return out;
}

const QUANTIFIED = /expect\((?:await )?(.+?)\.every\(.*\)\.toBe\(true\)/;
const COUNTED = /toHaveLength\(|\.length(?:, [^)]*)?\)\.(?:toBe|toEqual|toBeGreaterThan)|\.size(?:, [^)]*)?\)\.toBe|\.map\(.*\)\)\.toEqual\(/;
const LOOKBACK = 12;

/** Assertions the heuristic flags that are counted in another way, or may be empty by design: [file, text, why]. */
const ALLOWED = [
  ['packages/e2e-tests/test/crash.test.ts', 'Object.values(reference.local).every', 'counted as Object.keys(reference.local) on the line before'],
  ['packages/store-testkit/src/fanout.ts', 'activities.every((x) => x.entity', 'its map (summary) has toHaveLength(3) just before'],
  ['packages/e2e-tests/test/fault-convergence.test.ts', 'quarantine.every', 'a seed may damage no row: no quarantine entry is a right answer'],
];

/** The expression a quantifier runs over, and the variable (or call) it starts with. */
function subject(expression) {
  const list = expression.replace(/!/g, '').trim();
  const start = /^[\w$]+(?:\([^()]*\))?(?:\.[\w$]+)?/.exec(list)?.[0] ?? list;
  return { list, start };
}

/** The uncounted every(...) assertions of one file's text, as "file:line: text". */
function uncountedIn(file, text) {
  const found = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    const match = QUANTIFIED.exec(line);
    if (!match || match[1].trim().startsWith('[')) return;
    if (ALLOWED.some(([f, snippet]) => f === file && line.includes(snippet))) return;
    const { list, start } = subject(match[1]);
    const before = lines.slice(Math.max(0, i - LOOKBACK), i);
    const fromTest = before.slice(before.findLastIndex((l) => /\bit(\.each\(.*\))?\(/.test(l)) + 1);
    const counted = fromTest.some((l) => COUNTED.test(l) && (l.includes(list) || l.includes(start)));
    if (!counted) found.push(`${file}:${i + 1}: ${line.trim()}`);
  });
  return found;
}

const uncounted = () => testFiles().flatMap((file) => uncountedIn(file, readFileSync(join(root, file), 'utf8')));

describe('test assertions', () => {
  it('finds the test files (the scan itself is not vacuous)', () => {
    const files = testFiles();
    expect(files.length).toBeGreaterThan(50);
    expect(files).toContain('packages/e2e-tests/test/engine.test.ts');
    expect(files).toContain('packages/store-testkit/src/fanout.ts');
  });

  it('flags an every over a list not counted before it, in the same test', () => {
    const planted = [
      "  it('a', async () => {",
      '    const rows = await read();',
      '    expect(rows.every((r) => r.ok)).toBe(true);',
      '  });',
      "  it('b', async () => {",
      '    expect(rows).toHaveLength(2);',
      '    expect(rows.every((r) => r.ok)).toBe(true);',
      '    expect(result.pages.slice(1).every((p) => p.done)).toBe(true);',
      '    expect([1, 2].every((n) => n > 0)).toBe(true);',
      '  });',
      "  it('c', async () => {",
      '    expect(result.pages.every((p) => p.done)).toBe(true);',
      '  });',
    ].join('\n');
    expect(uncountedIn('x.test.ts', planted)).toEqual([
      'x.test.ts:3: expect(rows.every((r) => r.ok)).toBe(true);',
      'x.test.ts:8: expect(result.pages.slice(1).every((p) => p.done)).toBe(true);',
      'x.test.ts:12: expect(result.pages.every((p) => p.done)).toBe(true);',
    ]);
  });

  it('count a list before asserting every element of it matches', () => {
    expect(uncounted()).toEqual([]);
  });
});
