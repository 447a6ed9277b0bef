import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { resolve } from 'node:path';

/** The real bin, as npm installs it (`bin.taskforge` in package.json), built by `npm run build`. */
export const BIN = resolve('dist/src/cli/bin.js');

/** What a finished run of the bin printed and exited with. */
export interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A clean environment (PATH and HOME only) plus `env`: no stray TASKFORGE_ variables from the test runner. */
export function cleanEnv(env: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env['PATH'], HOME: process.env['HOME'], ...env };
}

/** Runs `taskforge ARGS` in `cwd` to its end. */
export function runBin(cwd: string, args: readonly string[], options: { input?: string | Buffer; env?: Record<string, string> } = {}): Ran {
  const ran = spawnSync(process.execPath, [BIN, ...args], { cwd, env: cleanEnv(options.env), input: options.input ?? '', encoding: 'utf8', timeout: 60_000 });
  return { code: ran.status, stdout: ran.stdout, stderr: ran.stderr };
}

/** A bin started in the background, its output collected as it comes. */
export interface RunningBin {
  readonly child: ChildProcessWithoutNullStreams;
  readonly output: { stdout: string; stderr: string };
  /** Resolves with the exit code (null when a signal killed it) and the output. */
  readonly exited: Promise<Ran>;
}

/** Starts `taskforge ARGS` in `cwd` with stdin, stdout and stderr piped. */
export function startBin(cwd: string, args: readonly string[], env: Record<string, string> = {}): RunningBin {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: cleanEnv(env) });
  const output = { stdout: '', stderr: '' };
  // A command that stops early (interrupted, killed) closes its stdin while the test may still be writing to it.
  child.stdin.on('error', () => undefined);
  child.stdout.on('data', (chunk: Buffer) => (output.stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output.stderr += chunk.toString()));
  const exited = new Promise<Ran>((done) => child.once('close', (code) => { done({ code, ...output }); }));
  return { child, output, exited };
}

/** Polls `check` every few milliseconds until it holds (the test's own timeout bounds the wait). */
export async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((done) => setTimeout(done, 3));
}
