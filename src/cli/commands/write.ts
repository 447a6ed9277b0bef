import { createReadStream, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import type { StorageOptions } from '../../tasks/storage-task-config.js';
import { backendFor, formatBytes, printJson, type CliStreams, type CommonOptions } from '../cli-context.js';
import type { ExitCode} from '../exit-codes.js';
import { UsageError } from '../exit-codes.js';
import { runOne } from '../run-one.js';

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
}

/** Stores data at `path` from --file, --data or stdin. */
export async function writeCommand(path: string, options: WriteCommandOptions, streams: CliStreams): Promise<ExitCode> {
  const data = dataSource(options, streams);
  const storageOptions: StorageOptions = {
    overwrite: options.overwrite,
    ...compressionOption(options),
    ...(options.encrypt === true ? { encryption: true } : {}),
    ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
    ...(options.retries === undefined ? {} : { retries: options.retries }),
  };
  const { result, exitCode } = await runOne(
    { type: 'storage', metadata: { operation: 'write', path, data, options: storageOptions } },
    backendFor(options, streams.env),
    streams,
    `writing ${path}`,
  );
  if (result.success) {
    const written = result.data;
    if (options.json === true) printJson(streams, written);
    else streams.stdout.write(`wrote ${written.path} (${formatBytes(written.size)} stored${describeEncoding(storageOptions)})\n`);
  }
  return exitCode;
}

function dataSource(options: WriteCommandOptions, streams: CliStreams): string | Readable | NodeJS.ReadableStream {
  if (options.file !== undefined && options.data !== undefined) throw new UsageError('give the data once: --file or --data, not both');
  if (options.data !== undefined) return options.data;
  if (options.file !== undefined) {
    let isFile: boolean;
    try {
      isFile = statSync(options.file).isFile();
    } catch {
      throw new UsageError(`--file: no such file '${options.file}'`);
    }
    if (!isFile) throw new UsageError(`--file: '${options.file}' is not a regular file`);
    return createReadStream(options.file);
  }
  if (streams.stdin.isTTY === true) throw new UsageError('no data: give --file FILE, --data TEXT, or pipe the data to stdin');
  return streams.stdin;
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
  if (options.encryption === true) parts.push('encrypted');
  return parts.length === 0 ? '' : `, ${parts.join(', ')}`;
}
