import { createWriteStream, existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import { backendFor, formatBytes, printJson, type CliStreams, type CommonOptions } from '../cli-context.js';
import { ExitCode, exitCodeOfError, UsageError } from '../exit-codes.js';
import { readTreeCommand } from './tree.js';
import { Interruption } from '../interruption.js';
import { runOne } from '../run-one.js';
import { TaskforgeError } from '../../core/errors.js';
import type { ReadForm } from '../../tasks/storage-task-config.js';

/** Options of `taskforge read`. */
export interface ReadCommandOptions extends CommonOptions {
  readonly output?: string;
  readonly encrypted?: boolean;
  readonly maxBytes?: number;
  readonly timeout?: number;
  /** Restore the tree stored at the path into the directory -o names (see readTreeCommand). */
  readonly recursive?: boolean;
  readonly concurrency?: number;
}

/**
 * The most `read --json` (without -o) holds in memory to print as one line,
 * unless --max-bytes says otherwise: past it, LIMIT_EXCEEDED names -o.
 */
export const JSON_LINE_MAX_BYTES = 64 * 1024 * 1024;

/**
 * Writes the object at `path` to stdout, or to a file (replaced whole, never
 * half-written); with --json and no file, prints it as one JSON line with its
 * kind. Ctrl-C or SIGTERM stops the read and removes the partial file.
 */
export async function readCommand(path: string, options: ReadCommandOptions, streams: CliStreams): Promise<ExitCode> {
  if (options.recursive === true) {
    if (options.output === undefined) throw new UsageError('--recursive restores a tree into a directory: give it with -o DIR');
    if (options.maxBytes !== undefined) throw new UsageError('--max-bytes does not apply to --recursive');
    return readTreeCommand(path, options.output, options, streams);
  }
  const interruption = Interruption.watch(streams);
  try {
    if (options.json === true && options.output === undefined) return await readAsJsonLine(path, options, streams, interruption);
    return await readBytes(path, options, streams, interruption);
  } finally {
    interruption.stop();
  }
}

async function readBytes(path: string, options: ReadCommandOptions, streams: CliStreams, interruption: Interruption): Promise<ExitCode> {
  const ran = await runOne(readConfig(path, options, 'stream'), backendFor(options, streams.env), streams, `reading ${path}`, { interruption, json: options.json === true });
  if (ran.interrupted) return stoppedBefore(path, options, streams, interruption, 0);
  if (!ran.result.success) return ran.exitCode;
  let body = ran.result.data as Readable;
  if (options.output === undefined && streams.stdout.isTTY === true) {
    const looked = await peekHead(body);
    // As curl does: a NUL byte in what would go first means binary, garbage on a terminal (and it may drive it).
    if (looked.first?.includes(0) === true) {
      body.destroy();
      streams.stderr.write(`taskforge: ${path} holds binary data: give -o FILE, or pipe it to a program, rather than print it on the terminal\n`);
      return ExitCode.USAGE;
    }
    body = looked.body;
  }
  let bytes = 0;
  body.on('data', (chunk: Buffer) => (bytes += chunk.length));
  try {
    if (options.output === undefined) await pipeline(body, streams.stdout, { end: false, signal: interruption.signal });
    else await writeWhole(body, options.output, interruption.signal);
  } catch (error) {
    if (interruption.signal.aborted) return stoppedBefore(path, options, streams, interruption, bytes);
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

/** `{"path","kind","value"}` for text and JSON, `{"path","kind":"bytes","base64"}` for bytes: the object in one line. */
async function readAsJsonLine(path: string, options: ReadCommandOptions, streams: CliStreams, interruption: Interruption): Promise<ExitCode> {
  const limited = { ...options, maxBytes: options.maxBytes ?? JSON_LINE_MAX_BYTES };
  const ran = await runOne(readConfig(path, limited, undefined), backendFor(options, streams.env), streams, `reading ${path}`, { interruption, json: true });
  if (ran.interrupted) return stoppedBefore(path, options, streams, interruption, 0);
  const { result } = ran;
  if (!result.success) {
    if (result.error.code === 'LIMIT_EXCEEDED' && options.maxBytes === undefined) {
      streams.stderr.write(`taskforge: read --json prints the object in one line and holds at most ${formatBytes(JSON_LINE_MAX_BYTES)}: give -o FILE, or --max-bytes N to allow more\n`);
    }
    return ran.exitCode;
  }
  const kind = result.details?.['kind'];
  const data = result.data;
  if (Buffer.isBuffer(data)) printJson(streams, { path, kind: 'bytes', bytes: data.byteLength, base64: data.toString('base64') });
  else printJson(streams, { path, kind: kind === 'json' ? 'json' : 'text', value: data });
  return ExitCode.OK;
}

function readConfig(path: string, options: ReadCommandOptions, as: ReadForm | undefined): Parameters<typeof runOne>[0] {
  return {
    type: 'storage',
    metadata: {
      operation: 'read',
      path,
      options: {
        ...(as === undefined ? {} : { as }),
        ...(options.encrypted === true ? { encryption: true } : {}),
        ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }),
        ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
      },
    },
  };
}

/** Bytes looked at to tell binary from text, as curl looks at what it would print first. */
const SNIFF_BYTES = 4096;

/** The body's first bytes (up to SNIFF_BYTES, fewer at its end), and the body again with them in front. */
async function peekHead(body: Readable): Promise<{ first: Buffer | undefined; body: Readable }> {
  const iterator = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const head: Buffer[] = [];
  let size = 0;
  let done = false;
  while (size < SNIFF_BYTES) {
    const next = await iterator.next();
    if (next.done === true) {
      done = true;
      break;
    }
    head.push(next.value);
    size += next.value.byteLength;
  }
  const rest = { [Symbol.asyncIterator]: () => iterator };
  async function* again(): AsyncGenerator<Buffer> {
    yield* head;
    if (!done) yield* rest;
  }
  return { first: size === 0 ? undefined : Buffer.concat(head, size), body: Readable.from(again()) };
}

/** Says what an interrupted read left: never a partial file. A reader that stopped reading (`| head`) got what it wanted: nothing to say. */
function stoppedBefore(path: string, options: ReadCommandOptions, streams: CliStreams, interruption: Interruption, bytes: number): ExitCode {
  if (interruption.outputClosed) return ExitCode.OK;
  const by = interruption.by ?? 'a signal';
  if (options.output === undefined) streams.stderr.write(`taskforge: interrupted by ${by}: stopped reading ${path} after ${formatBytes(bytes)}\n`);
  else {
    const kept = existsSync(options.output) ? `; the ${options.output} already there is unchanged` : '';
    streams.stderr.write(`taskforge: interrupted by ${by}: ${options.output} was not written (the partial copy is removed${kept})\n`);
  }
  return ExitCode.TASK_FAILED;
}

/** Writes to a temporary file beside `file`, then renames it over: a failed or interrupted read leaves no half file. */
async function writeWhole(body: Readable, file: string, signal: AbortSignal): Promise<void> {
  const temporary = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.part`);
  try {
    await pipeline(body, createWriteStream(temporary, { flags: 'wx' }), { signal });
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}
