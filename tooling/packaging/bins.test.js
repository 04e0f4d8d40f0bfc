import { describe, expect, it } from 'vitest';
import { posix } from 'node:path';
import { bins, publishedPackages, root, run, tarballFiles, workspacePackages } from './workspace.js';

// pnpm links a workspace package's bins at install time, before anything is built: a bin pointing
// into dist/ makes `pnpm install` on a fresh clone (and so the first `npm start`) print
// "WARN Failed to create bin ..." for every package that depends on it.
describe('bins', () => {
  const withBins = workspacePackages().filter((p) => bins(p.pkg).length > 0);

  it('are found', () => {
    expect(withBins.map((p) => p.pkg.name)).toContain('@crm-sync/dynamics-simulator');
  });

  it.each(withBins.map((p) => [p.pkg.name, p]))('of %s are files of the source tree (there on a fresh clone)', async (_name, p) => {
    // Tracked or to be added: files that exist and that .gitignore does not exclude (dist/ is excluded).
    const paths = bins(p.pkg).map(([, path]) => posix.join(p.dir, path));
    const { stdout } = await run('git', ['ls-files', '--cached', '--others', '--exclude-standard', '--', ...paths], { cwd: root });
    const inSource = stdout.split('\n').filter(Boolean);
    for (const [name, path] of bins(p.pkg)) {
      expect(inSource, `bin ${name} -> ${path} is not a file of the source tree (built files are not there before a build)`).toContain(posix.join(p.dir, path));
    }
  });

  const publishedWithBins = publishedPackages().filter((p) => bins(p.pkg).length > 0);
  it.each(publishedWithBins.map((p) => [p.pkg.name, p]))('of %s are in its tarball', async (_name, p) => {
    const files = await tarballFiles(p.dir);
    for (const [, path] of bins(p.pkg)) expect(files).toContain(posix.normalize(path));
  });
});
