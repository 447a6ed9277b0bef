import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import { backendFor, formatBytes, printJson, type CliStreams, type CommonOptions } from '../cli-context.js';
import { ExitCode, exitCodeOfError, UsageError } from '../exit-codes.js';
import { runOne } from '../run-one.js';
import { TaskforgeError } from '../../core/errors.js';

/** Options of `taskforge read`. */
export interface ReadCommandOptions extends CommonOptions {
  readonly output?: string;
  readonly encrypted?: boolean;
  readonly maxBytes?: number;
  readonly timeout?: number;
}

/** Writes the object at `path` to stdout, or to a file (replaced whole, never half-written). */
export async function readCommand(path: string, options: ReadCommandOptions, streams: CliStreams): Promise<ExitCode> {
  if (options.json === true && options.output === undefined) throw new UsageError('read --json needs -o FILE: the object itself goes to stdout otherwise');
  const { result, exitCode } = await runOne(
    {
      type: 'storage',
      metadata: {
        operation: 'read',
        path,
        options: {
          as: 'stream',
          ...(options.encrypted === true ? { encryption: true } : {}),
          ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }),
          ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
        },
      },
    },
    backendFor(options, streams.env),
    streams,
    `reading ${path}`,
  );
  if (!result.success) return exitCode;
  const body = result.data;
  let bytes = 0;
  body.on('data', (chunk: Buffer) => (bytes += chunk.length));
  try {
    if (options.output === undefined) await pipeline(body, streams.stdout, { end: false });
    else await writeWhole(body, options.output);
  } catch (error) {
    const code = error instanceof TaskforgeError ? error.code : 'IO_ERROR';
    streams.stderr.write(`taskforge: ${code}: ${error instanceof Error ? error.message : String(error)}\n`);
    return exitCodeOfError(code);
  }
  if (options.output !== undefined) {
    if (options.json === true) printJson(streams, { path, file: options.output, bytes });
    else streams.stderr.write(`read ${path} into ${options.output} (${formatBytes(bytes)})\n`);
  }
  return ExitCode.OK;
}

/** Writes to a temporary file beside `file`, then renames it over: a failed read leaves no half file. */
async function writeWhole(body: Readable, file: string): Promise<void> {
  const temporary = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.part`);
  try {
    await pipeline(body, createWriteStream(temporary, { flags: 'wx' }));
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}
