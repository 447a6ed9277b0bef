import { resolve } from 'node:path';
import { DEFAULT_STORAGE_ROOT } from '../storage/default-backend.js';
import { FileSystemBackend } from '../storage/backends/filesystem.js';

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
  return resolve(options.root ?? env['TASKFORGE_STORAGE_ROOT'] ?? DEFAULT_STORAGE_ROOT);
}

/** The filesystem backend under the command's root. */
export function backendFor(options: CommonOptions, env: NodeJS.ProcessEnv): FileSystemBackend {
  return new FileSystemBackend({ root: storageRoot(options, env) });
}

/** Writes one line of JSON. */
export function printJson(streams: CliStreams, value: unknown): void {
  streams.stdout.write(`${JSON.stringify(value)}\n`);
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
