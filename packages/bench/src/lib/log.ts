/** Progress goes to stderr, so stdout holds only the results table. */
export function log(line: string): void {
  process.stderr.write(`${line}\n`);
}
