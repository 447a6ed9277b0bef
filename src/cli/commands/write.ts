import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { wantsEncryption, type StorageOptions } from '../../tasks/storage-task-config.js';
import { backendFor, formatBytes, printJson, type CliStreams, type CommonOptions } from '../cli-context.js';
import type { ExitCode} from '../exit-codes.js';
import { UsageError } from '../exit-codes.js';
import { Interruption } from '../interruption.js';
import { runOne, type RanOne } from '../run-one.js';
import { writeTreeCommand } from './tree.js';
import type { WriteResultData } from '../../tasks/storage-result.js';
import { LOCAL_FILE_WORDS, systemErrorReason } from '../../core/system-errors.js';

/** Options of `taskforge write`. */
export interface WriteCommandOptions extends CommonOptions {
  readonly file?: string;
  readonly data?: string;
  readonly compress?: boolean | string;
  readonly level?: number;
  readonly encrypt?: boolean;
  readonly overwrite: boolean;
  readonly timeout?: number;
  readonly retries?: number;
  /** Store the directory --file names, every file under it (see writeTreeCommand). */
  readonly recursive?: boolean;
  readonly concurrency?: number;
  readonly delete?: boolean;
  readonly queue?: string;
}

/** Stores data at `path` from --file, --data or stdin. */
export async function writeCommand(path: string, options: WriteCommandOptions, streams: CliStreams): Promise<ExitCode> {
  const treeOptions = {
    ...compressionOption(options),
    ...(options.encrypt === true ? { encryption: true } : {}),
    ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
    ...(options.retries === undefined ? {} : { retries: options.retries }),
  };
  if (options.recursive === true) return writeTreeCommand(path, treeSource(options), treeOptions, options, streams);
  if (options.delete === true) throw new UsageError('--delete needs --recursive');
  if (options.queue !== undefined) throw new UsageError('--queue needs --recursive (a single write goes to a queue through taskforge run)');
  const { source, size } = dataSource(options, streams);
  const storageOptions: StorageOptions = { overwrite: options.overwrite, ...treeOptions };
  const interruption = Interruption.watch(streams);
  let ran: RanOne<WriteResultData>;
  try {
    ran = await runOne({ type: 'storage', metadata: { operation: 'write', path, ...source, options: storageOptions } }, backendFor(options, streams.env), streams, `writing ${path}`, { interruption, json: options.json === true, ...(size === undefined ? {} : { totalBytes: size }) });
  } finally {
    interruption.stop();
  }
  const { result, exitCode } = ran;
  if (ran.interrupted) {
    // The write never committed: whatever was at the path is as it was, and its partial copy is removed, unless the store refused that (an S3 upload's parts).
    const partsLeft = result.error?.details?.['partsLeft'] === true;
    const removed = partsLeft ? `but the parts already sent could not be removed from the store: ${result.error.message}` : 'the partial copy is removed';
    streams.stderr.write(`taskforge: interrupted by ${interruption.by ?? 'a signal'}: nothing was stored at ${path} (what was there before is unchanged; ${removed})\n`);
  }
  if (result.success) {
    const written = result.data;
    if (options.json === true) printJson(streams, written);
    else streams.stdout.write(`wrote ${written.path} (${formatBytes(written.size)} stored${describeEncoding(storageOptions)})\n`);
  }
  return exitCode;
}

/** The directory `--recursive` stores. */
function treeSource(options: WriteCommandOptions): string {
  if (options.data !== undefined) throw new UsageError('--recursive stores a directory: give it with --file DIR, not --data');
  if (options.file === undefined) throw new UsageError('--recursive needs the directory to store: --file DIR');
  if (!options.overwrite) throw new UsageError('--no-overwrite does not apply to --recursive (a changed file replaces its object)');
  let stats;
  try {
    stats = statSync(options.file);
  } catch (error) {
    // (The path as the process sees it: a relative one is taken from the working directory.)
    throw new UsageError(`--file: cannot read the directory '${options.file}' (${resolve(options.file)}): ${systemErrorReason(error, LOCAL_FILE_WORDS)}`);
  }
  if (!stats.isDirectory()) throw new UsageError(`--file: '${options.file}' is not a directory (without --recursive, write stores one file)`);
  return options.file;
}

/**
 * The data to store, and its size when known before reading it (a file's).
 * A file is named to the write (`file`), not streamed to it: a file changed
 * while it is read then fails with SOURCE_CHANGED instead of being stored torn.
 */
function dataSource(options: WriteCommandOptions, streams: CliStreams): { source: { data: string | Readable | NodeJS.ReadableStream } | { file: string }; size?: number } {
  if (options.file !== undefined && options.data !== undefined) throw new UsageError('give the data once: --file or --data, not both');
  if (options.data !== undefined) return { source: { data: options.data } };
  if (options.file !== undefined) {
    let stats;
    try {
      stats = statSync(options.file);
    } catch {
      throw new UsageError(`--file: no such file '${options.file}'`);
    }
    if (!stats.isFile()) throw new UsageError(`--file: '${options.file}' is not a regular file`);
    return { source: { file: options.file }, size: stats.size };
  }
  if (streams.stdin.isTTY === true) throw new UsageError('no data: give --file FILE, --data TEXT, or pipe the data to stdin');
  return { source: { data: streams.stdin } };
}

function compressionOption(options: WriteCommandOptions): Pick<StorageOptions, 'compression'> {
  const { compress, level } = options;
  if (compress === undefined || compress === false) {
    if (level !== undefined) throw new UsageError('--level needs --compress');
    return {};
  }
  if (compress === true) return level === undefined ? { compression: true } : { compression: { algorithm: 'zstd', level } };
  if (compress !== 'gzip' && compress !== 'brotli' && compress !== 'zstd') {
    throw new UsageError(`--compress: expected gzip, brotli or zstd (got '${compress}')`);
  }
  return { compression: { algorithm: compress, ...(level === undefined ? {} : { level }) } };
}

function describeEncoding(options: StorageOptions): string {
  const parts: string[] = [];
  const { compression } = options;
  if (compression !== undefined && compression !== false) parts.push(compression === true ? 'compressed' : `${compression.algorithm}-compressed`);
  if (wantsEncryption(options)) parts.push('encrypted');
  return parts.length === 0 ? '' : `, ${parts.join(', ')}`;
}
