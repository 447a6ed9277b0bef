#!/usr/bin/env node
import { main } from './program.js';

// The reader of stdout went away (`taskforge ls | head`): what is still to print has nowhere to go. A command
// that watches for it (an Interruption) stops cleanly; output written after it is dropped, not a crash.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
});

// taskforge's own warnings (tasks a queue holds that this process cannot run) read as the CLI's other lines; the
// rest keep Node's form.
const nodeWarningListeners = process.listeners('warning');
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (warning.name === 'TaskforgeWarning') process.stderr.write(`taskforge: ${warning.message}\n`);
  else for (const listener of nodeWarningListeners) listener(warning);
});

process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env });
