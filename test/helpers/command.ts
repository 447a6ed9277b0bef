import { spawn } from 'node:child_process';

/** What a finished command left behind. */
export interface CommandResult {
  /** The exit code; null when a signal (the timeout's included) ended it. */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of {@link runCommand}. */
export interface CommandOptions {
  readonly cwd: string;
  /** The whole environment of the command (nothing is inherited). */
  readonly env: NodeJS.ProcessEnv;
  /** Written to its standard input, which is then closed. Default: nothing. */
  readonly input?: string;
  /** It is killed after this long. Default 60 s. */
  readonly timeoutMs?: number;
}

/**
 * Runs a command (found on PATH) without blocking the test runner: spawnSync
 * would stop vitest's own timers for as long as a slow `npm install` takes.
 */
export function runCommand(command: string, args: readonly string[], options: CommandOptions): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['pipe', 'pipe', 'pipe'], timeout: options.timeoutMs ?? 60_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => {
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}
