import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root, run, workspacePackages } from './workspace.js';

/**
 * Every documented `pnpm --filter <package> test <args>` of the repository's READMEs, as
 * [readme, package, args]. Environment assignments before the command and comments are dropped.
 */
function documentedTestCommands() {
  const readmes = ['README.md', ...workspacePackages().map((p) => `${p.dir}/README.md`)];
  const commands = [];
  for (const readme of readmes) {
    let text;
    try {
      text = readFileSync(join(root, readme), 'utf8');
    } catch {
      continue;
    }
    for (const match of text.matchAll(/pnpm --filter (@crm-sync\/[\w-]+) test\b([^\n`#]*)/g)) {
      const args = match[2].trim().split(/\s+/).filter(Boolean);
      if (args.length > 0) commands.push([readme, match[1], args]);
    }
  }
  return commands;
}

// pnpm hands everything after the script name to the script as is, a `--` included, and
// `vitest run -- test/a.test.ts` ignores the file filter and runs every file. So a README's
// single-file command is checked with `vitest list --filesOnly` and the same arguments, which lists
// the files `vitest run` would run without running them.
describe('documented single-file test commands', () => {
  const commands = documentedTestCommands();

  it('are found', () => {
    expect(commands.map(([readme]) => readme)).toContain('packages/e2e-tests/README.md');
  });

  it.each(commands.map(([readme, pkg, args]) => [readme, `${pkg} test ${args.join(' ')}`, pkg, args]))(
    '%s: `%s` runs only the files it names',
    async (_readme, _command, pkg, args) => {
      const target = workspacePackages().find((p) => p.pkg.name === pkg);
      expect(target.pkg.scripts.test).toBe('vitest run');
      const named = args.filter((a) => a.endsWith('.test.ts') || a.endsWith('.test.js'));
      expect(named.length).toBeGreaterThan(0);
      const { stdout } = await run('pnpm', ['exec', 'vitest', 'list', '--filesOnly', ...args], { cwd: join(root, target.dir) });
      const listed = stdout.split('\n').map((l) => l.trim()).filter((l) => /\.test\.[jt]s$/.test(l));
      expect(listed.sort()).toEqual(named.sort());
    },
  );
});
