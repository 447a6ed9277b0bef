import { resolve } from 'node:path';
import { DEFAULT_STORAGE_ROOT } from '../storage/default-backend.js';
import type { StorageBackend } from '../storage/backend.js';
import { FileSystemBackend } from '../storage/backends/filesystem.js';
import { backendFromUrl } from '../storage/storage-url.js';
import { UsageError } from './exit-codes.js';

/** Options every command takes. */
export interface CommonOptions {
  readonly root?: string;
  readonly json?: boolean;
}

/** Where a command's output goes; replaced in tests of the pieces. */
export interface CliStreams {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
}

/** The storage root: `--root`, else `TASKFORGE_STORAGE_ROOT`, else `./taskforge-data`. */
export function storageRoot(options: CommonOptions, env: NodeJS.ProcessEnv): string {
  const root = options.root ?? env['TASKFORGE_STORAGE_ROOT'] ?? DEFAULT_STORAGE_ROOT;
  // A URL given as a folder would make a folder named after it (./s3:/bucket/...) and store there without a word.
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(root)) {
    const name = options.root === undefined ? 'TASKFORGE_STORAGE_ROOT' : '--root';
    throw new UsageError(`${name} takes a folder, not a URL (got '${root}'): for S3, set TASKFORGE_STORAGE=s3://BUCKET/PREFIX?endpoint=URL and give no --root`);
  }
  return resolve(root);
}

/**
 * The command's backend: the filesystem under `--root`; else what
 * `TASKFORGE_STORAGE` names (`s3://bucket/prefix?endpoint=...`); else the
 * filesystem under `TASKFORGE_STORAGE_ROOT` or `./taskforge-data`.
 */
export function backendFor(options: CommonOptions, env: NodeJS.ProcessEnv): StorageBackend {
  const url = env['TASKFORGE_STORAGE'];
  if (options.root === undefined && url !== undefined && url !== '') {
    try {
      return backendFromUrl(url);
    } catch (error) {
      throw new UsageError(error instanceof Error ? error.message : String(error));
    }
  }
  return new FileSystemBackend({ root: storageRoot(options, env) });
}

/**
 * JSON lines not yet written, per output. Lines printed in one turn of the
 * event loop go out in one write: stdout on a file or pipe is written
 * synchronously, and a write per line was 3% of a 10,000-task `run --json`.
 */
const pendingLines = new WeakMap<NodeJS.WritableStream, string[]>();
const MAX_PENDING_LINES = 512;

/** Writes one line of JSON, before this turn of the event loop ends (or `flushOutput`). */
export function printJson(streams: CliStreams, value: unknown): void {
  let lines = pendingLines.get(streams.stdout);
  if (lines === undefined) {
    lines = [];
    pendingLines.set(streams.stdout, lines);
    setImmediate(() => {
      flushOutput(streams);
    });
  }
  lines.push(JSON.stringify(value));
  if (lines.length >= MAX_PENDING_LINES) flushOutput(streams);
}

/** Writes the JSON lines printed and not yet written. */
export function flushOutput(streams: CliStreams): void {
  const lines = pendingLines.get(streams.stdout);
  if (lines === undefined) return;
  pendingLines.delete(streams.stdout);
  streams.stdout.write(`${lines.join('\n')}\n`);
}

/** Bytes in a few characters: 1.5 KiB, 12.0 MiB. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${String(bytes)} B` : `${value.toFixed(1)} ${units[unit] ?? ''}`;
}
