import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { publishedPackages, root } from './workspace.js';

/** The text of a README's `## Install` section, or undefined. */
function installSection(readme) {
  const match = /^## Install\n([\s\S]*?)(?=^## )/m.exec(readme);
  return match?.[1];
}

/** The package names of the section's first `npm install` command (options dropped). */
function installedNames(section) {
  const command = /^npm install (.*)$/m.exec(section);
  if (!command) return undefined;
  return command[1]
    .split(/\s+/)
    .filter((word) => word && !word.startsWith('-'))
    .map((word) => word.replace(/(.)@[^/]*$/, '$1')); // drop a version: pkg@2, @scope/pkg@1
}

// A user installs a package from its README: the command there must bring every peer dependency
// (pnpm and npm do not always add peers for you, and two copies of core break instanceof checks),
// and name nothing the package does not ask for. ESM only, with the TypeScript resolutions that work.
describe('install section of each published README', () => {
  it.each(publishedPackages().map((p) => [p.pkg.name, p]))('%s: installs the package with its peers, says ESM only and the moduleResolution', (name, p) => {
    const section = installSection(readFileSync(join(root, p.dir, 'README.md'), 'utf8'));
    expect(section, `${p.dir}/README.md has no "## Install" section`).toBeDefined();
    const names = installedNames(section);
    expect(names, 'no `npm install` command').toBeDefined();
    const peers = Object.keys(p.pkg.peerDependencies ?? {});
    expect(new Set(names)).toEqual(new Set([name, ...peers]));
    for (const peer of peers) expect(section).toContain(`\`${peer}\``); // said to be a peer, in words
    expect(section).toMatch(/ESM only/);
    expect(section).toContain('"moduleResolution": "NodeNext"');
    expect(section).toContain('"Bundler"');
  });
});
