// Preloaded into the runner process of the memory figure (`node --import`): writes the process's
// peak RSS (maxRSS, VmHWM) in MB to the file CRM_SYNC_BENCH_RSS_FILE names, as it exits.
import { writeFileSync } from 'node:fs';

process.on('exit', () => {
  writeFileSync(process.env.CRM_SYNC_BENCH_RSS_FILE, String(process.resourceUsage().maxRSS / 1024));
});
