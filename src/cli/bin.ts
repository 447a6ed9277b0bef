#!/usr/bin/env node
import { main } from './program.js';

// The reader of stdout went away (`taskforge ls | head`): what is still to print has nowhere to go. A command
// that watches for it (an Interruption) stops cleanly; output written after it is dropped, not a crash.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
});

process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env });
