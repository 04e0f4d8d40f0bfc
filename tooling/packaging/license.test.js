import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { publishedPackages, root, tarballFiles } from './workspace.js';

// package.json says MIT; the MIT license asks that its text go with every copy, so each published
// tarball carries the repository's LICENSE (npm takes a LICENSE file from the package's directory).
describe('LICENSE', () => {
  const license = readFileSync(join(root, 'LICENSE'), 'utf8');
  const published = publishedPackages();

  it('at the root is the MIT license package.json names', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    expect(pkg.license).toBe('MIT');
    expect(license).toMatch(/^MIT License\n/);
  });

  it('there are published packages', () => {
    expect(published.map((p) => p.pkg.name)).toContain('@crm-sync/core');
  });

  it.each(published.map((p) => [p.pkg.name, p]))('is in the tarball of %s, the same text as the root one', async (_name, p) => {
    expect(p.pkg.license).toBe('MIT');
    expect(await tarballFiles(p.dir)).toContain('LICENSE');
    expect(readFileSync(join(root, p.dir, 'LICENSE'), 'utf8')).toBe(license);
  });
});
