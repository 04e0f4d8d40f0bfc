#!/usr/bin/env node
import { main } from './cli/main.js';
import { tightenHeap } from './heap.js';

tightenHeap();
const code = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() });
// Open keep-alive sockets must not hold the process; stdout and stderr are synchronous on Linux pipes.
process.exit(code);
