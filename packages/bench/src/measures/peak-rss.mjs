// Preloaded into a measured runner process (`node --import`): writes the process's peak RSS in MB
// to the file CRM_SYNC_BENCH_RSS_FILE names, as it exits. VmHWM (Linux) is this program's own peak:
// `maxRSS` (getrusage) also counts the parent's memory at the moment it forked this process.
import { readFileSync, writeFileSync } from 'node:fs';

function peakMb() {
  try {
    const kb = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (kb) return Number(kb) / 1024;
  } catch {
    // not Linux: getrusage below
  }
  return process.resourceUsage().maxRSS / 1024;
}

process.on('exit', () => {
  writeFileSync(process.env.CRM_SYNC_BENCH_RSS_FILE, String(peakMb()));
});
