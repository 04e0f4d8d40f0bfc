import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const run = promisify(execFile);

/** Every workspace package: its directory (relative to the root) and its package.json. */
export function workspacePackages() {
  return ['packages', 'apps', 'tooling', 'examples'].filter((group) => existsSync(join(root, group))).flatMap((group) =>
    readdirSync(join(root, group), { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(join(root, group, d.name, 'package.json')))
      .map((d) => {
        const dir = `${group}/${d.name}`;
        return { dir, pkg: JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) };
      }),
  );
}

/** The packages that are published (not private). */
export const publishedPackages = () => workspacePackages().filter((p) => !p.pkg.private);

/** The files `pnpm pack` puts in the package's tarball (nothing is written). */
export async function tarballFiles(dir) {
  const { stdout } = await run('pnpm', ['pack', '--dry-run', '--json'], { cwd: join(root, dir) });
  return JSON.parse(stdout).files.map((f) => f.path);
}

/** A package's bins as [name, path relative to the package] pairs. */
export function bins(pkg) {
  if (!pkg.bin) return [];
  if (typeof pkg.bin === 'string') return [[pkg.name.replace(/^@[^/]+\//, ''), pkg.bin]];
  return Object.entries(pkg.bin);
}
