import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { startScriptFile } from './child.js';

/** A worker process (test/fixtures/redis-worker-process.ts): its pid, how it exited, what it printed. */
export interface WorkerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<NodeJS.Signals | number | null>;
  output(): { stdout: string; stderr: string };
}

/** What a worker process is started with. */
export interface WorkerProcessOptions {
  readonly url: string;
  readonly name: string;
  readonly journal: string;
  readonly concurrency?: number;
  readonly lockMs?: number;
  readonly shutdownMs?: number;
}

/** Starts a worker process running journal tasks; resolves once it says it is ready. */
export async function startWorkerProcess(options: WorkerProcessOptions): Promise<WorkerProcess> {
  const args = [options.url, options.name, options.journal, String(options.concurrency ?? 1), String(options.lockMs ?? 30_000), String(options.shutdownMs ?? 5000)];
  const child = startScriptFile('test/fixtures/redis-worker-process.ts', args);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<NodeJS.Signals | number | null>((done) => child.once('exit', (code, signal) => { done(signal ?? code); }));
  for (let waited = 0; !stdout.includes('ready '); waited += 20) {
    if (child.exitCode !== null || waited > 20_000) throw new Error(`the worker did not start: ${stderr}`);
    await delay(20);
  }
  return { child, pid: child.pid ?? 0, exited, output: () => ({ stdout, stderr }) };
}

/** The journal's lines, split into words (`start ID ATTEMPT PID`, `done ID PID`, ...). */
export function journalLines(file: string): string[][] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => line.split(' ')) : [];
}

/** Waits until the journal has a line that `matches`; throws after `timeoutMs`. */
export async function journalReaches(file: string, matches: (line: string[]) => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  for (let waited = 0; !journalLines(file).some(matches); waited += 10) {
    if (waited > timeoutMs) throw new Error(`the journal never showed ${what}: ${JSON.stringify(journalLines(file))}`);
    await delay(10);
  }
}
