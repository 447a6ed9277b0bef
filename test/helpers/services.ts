import { spawnSync } from 'node:child_process';

/** True when `command` is on the PATH. */
export function hasCommand(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).status === 0;
}

/**
 * Whether the tests that need a service may run. On a machine without it they
 * are skipped, and said so on stderr with the reason; in CI (`CI=true`) a
 * missing service is a failure, not a skip.
 */
export function serviceAvailable(service: string, command: string, install: string): boolean {
  if (hasCommand(command)) return true;
  const reason = `${service} tests need '${command}', which is not installed (${install})`;
  if (process.env['CI'] === 'true') throw new Error(`${reason}: in CI this is a failure, not a skip`);
  process.stderr.write(`\n!!! SKIPPED: ${reason}\n\n`);
  return false;
}
