/**
 * Benchmarks (not tests): prints
 *  1. the median time to serve one 5,000-row page, in process and over HTTP;
 *  2. the standalone server (a child process started with the package's CLI) serving 1,000,000 generated
 *     contacts page by page, with the server's RSS sampled along the way;
 *  3. the same server answering the sync engine's initial read (change tracking, 8 columns, the
 *     lookuplogicalname annotation, full 5,000-row pages through the nextLinks) to a client that reads
 *     each body as text: rows per second, median of several runs.
 * Run: pnpm --filter @crm-sync/dynamics-simulator bench   (options: --contacts <n> --runs <n> --tracking-runs <n> --tracking-pages <n>)
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createSimulator, startSimulatorServer } from '../src/index.js';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    contacts: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '15' },
    'tracking-runs': { type: 'string', default: '7' },
    'tracking-pages': { type: 'string', default: '20' },
  },
});
const totalContacts = Number(values.contacts);
const runs = Number(values.runs);
const SELECT = '$select=fullname,emailaddress1,telephone1,_parentcustomerid_value,modifiedon';
const PAGE = { Prefer: 'odata.maxpagesize=5000' };
const TRACKING_SELECT = '$select=fullname,firstname,lastname,emailaddress1,telephone1,jobtitle,_parentcustomerid_value,modifiedon';

const countOf = (text: string, needle: string): number => {
  let count = 0;
  for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + needle.length)) count++;
  return count;
};

const median = (numbers: number[]): number => {
  const sorted = [...numbers].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

async function timePage(label: string, fetchPage: () => Promise<Response>): Promise<void> {
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < runs + 2; i++) {
    const started = performance.now();
    const response = await fetchPage();
    const body = await response.text();
    const elapsed = performance.now() - started;
    if (response.status !== 200) throw new Error(`${label}: HTTP ${response.status} ${body.slice(0, 200)}`);
    // The first two runs warm up the JIT.
    if (i >= 2) times.push(elapsed);
    bytes = body.length;
  }
  console.log(`${label.padEnd(34)} median ${median(times).toFixed(1).padStart(7)} ms   min ${Math.min(...times).toFixed(1).padStart(7)} ms   (${runs} runs, ${mb(bytes)} per page)`);
}

console.log('1) Time to serve one 5,000-row page of contacts');
{
  const sim = createSimulator({ contacts: 50_000, limits: { enabled: false } });
  const url = `${sim.webApiUrl()}contacts?${SELECT}`;
  await timePage('in process (fetchHandler)', () => sim.fetchHandler(new Request(url, { headers: { Authorization: `Bearer ${sim.tokens.sync}`, ...PAGE } })));
  const server = await startSimulatorServer({ simulator: sim });
  await timePage('over HTTP (standalone server)', () => fetch(`${server.webApiUrl}contacts?${SELECT}`, { headers: { Authorization: `Bearer ${sim.tokens.sync}`, ...PAGE } }));
  const twoPages = async (): Promise<Response> => {
    // Page 1, then page 2 through its nextLink (paging cookie).
    const first = (await (await fetch(`${server.webApiUrl}contacts?${SELECT}`, { headers: { Authorization: `Bearer ${sim.tokens.sync}`, ...PAGE } })).json()) as { '@odata.nextLink': string };
    return fetch(first['@odata.nextLink'], { headers: { Authorization: `Bearer ${sim.tokens.sync}`, ...PAGE } });
  };
  await timePage('over HTTP, pages 1+2 via nextLink', twoPages);
  await server.close();
}

console.log(`\n2) Standalone server with ${totalContacts.toLocaleString('en-US')} contacts, read page by page to the end`);
const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const child = spawn(process.execPath, ['--import', 'tsx', cli, '--port', '0', '--contacts', String(totalContacts), '--no-limits'], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
try {
  let output = '';
  child.stdout.setEncoding('utf8');
  const base = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: string) => {
      output += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`simulator exited with ${code}: ${output}`)));
  });
  const stats = async (): Promise<number> => ((await (await fetch(`${base}/_simulator/stats`)).json()) as { memory: { rss: number } }).memory.rss;
  const headers = { Authorization: 'Bearer sim-token-sync', ...PAGE };
  const expectedPages = Math.ceil(totalContacts / 5000);
  const marks = new Map([
    [Math.max(1, Math.round(expectedPages * 0.1)), '10%'],
    [Math.max(1, Math.round(expectedPages * 0.5)), '50%'],
    [expectedPages, '100%'],
  ]);
  const rssBefore = await stats();
  console.log(`server RSS before reading:   ${mb(rssBefore)}`);
  const started = performance.now();
  let link: string | undefined = `${base}/api/data/v9.2/contacts?${SELECT}`;
  let pages = 0;
  let rows = 0;
  const samples: number[] = [];
  while (link) {
    const response = await fetch(link, { headers });
    if (response.status !== 200) throw new Error(`page ${pages + 1}: HTTP ${response.status}`);
    const body = (await response.json()) as { value: unknown[]; '@odata.nextLink'?: string };
    pages++;
    rows += body.value.length;
    link = body['@odata.nextLink'];
    if (pages % 10 === 0 || !link) samples.push(await stats());
    const mark = marks.get(pages);
    if (mark) console.log(`server RSS after ${mark.padStart(4)} of pages (${String(pages).padStart(4)} pages, ${rows.toLocaleString('en-US').padStart(9)} rows): ${mb(await stats())}`);
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(`read ${rows.toLocaleString('en-US')} rows in ${pages} pages in ${seconds.toFixed(1)} s (${Math.round(rows / seconds).toLocaleString('en-US')} rows/s)`);
  console.log(`server RSS over the run (sampled every 10 pages): min ${mb(Math.min(...samples))}, max ${mb(Math.max(...samples))}`);
  if (rows !== totalContacts) throw new Error(`expected ${totalContacts} rows, read ${rows}`);

  const trackingRuns = Number(values['tracking-runs']);
  const trackingPages = Math.min(Number(values['tracking-pages']), expectedPages);
  console.log(`\n3) Initial change-tracking read over HTTP, ${trackingPages} pages of 5,000 rows per run, body read as text`);
  const tracking = {
    Authorization: 'Bearer sim-token-sync',
    Prefer: 'odata.track-changes, odata.maxpagesize=5000, odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname"',
  };
  const rates: number[] = [];
  for (let run = 0; run < trackingRuns + 1; run++) {
    let next: string | undefined = `${base}/api/data/v9.2/contacts?${TRACKING_SELECT}`;
    let read = 0;
    const begun = performance.now();
    for (let page = 0; page < trackingPages && next; page++) {
      const response = await fetch(next, { headers: tracking });
      const text = await response.text();
      if (response.status !== 200) throw new Error(`tracking page ${page + 1}: HTTP ${response.status} ${text.slice(0, 200)}`);
      read += countOf(text, '"@odata.etag"');
      // The nextLink is the body's last property.
      const link = /"@odata\.nextLink":("[^"]*")\}$/.exec(text.slice(-4000))?.[1];
      next = link === undefined ? undefined : (JSON.parse(link) as string);
    }
    const rate = read / ((performance.now() - begun) / 1000);
    // The first run warms up the JIT.
    if (run > 0) rates.push(rate);
  }
  console.log(
    `${'rows/s'.padEnd(34)} median ${Math.round(median(rates)).toLocaleString('en-US').padStart(7)}   min ${Math.round(Math.min(...rates)).toLocaleString('en-US').padStart(7)}   max ${Math.round(Math.max(...rates)).toLocaleString('en-US').padStart(7)}   (${trackingRuns} runs)`,
  );
} finally {
  child.kill('SIGTERM');
  await once(child, 'exit').catch(() => undefined);
}
