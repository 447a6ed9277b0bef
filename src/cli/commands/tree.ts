import { lstat } from 'node:fs/promises';
import { ErrorCode, isTaskforgeError } from '../../core/errors.js';
import { restoreTree } from '../../orchestrator/trees/tree-restore.js';
import { storeTree } from '../../orchestrator/trees/tree-store.js';
import { TreeTally, type TreeSummary } from '../../orchestrator/trees/tree-tally.js';
import { defaultKeyring } from '../../storage/codec/default-keyring.js';
import { wantsEncryption, type StorageOptions } from '../../tasks/storage-task-config.js';
import { backendFor, type CliStreams, type CommonOptions } from '../cli-context.js';
import { chooseQueue, openCliQueue } from '../cli-queue.js';
import { ExitCode, exitCodeOfError, UsageError } from '../exit-codes.js';
import { Interruption } from '../interruption.js';
import { TreeView } from '../tree-view.js';

/** Options of `write --recursive` and `read --recursive`. */
export interface TreeCommandOptions extends CommonOptions {
  readonly concurrency?: number;
  readonly delete?: boolean;
  readonly encrypted?: boolean;
  /** write: the queue the writes go through (`redis://…`: spread over `taskforge worker` processes). */
  readonly queue?: string;
}

/** `taskforge write PREFIX --file DIR --recursive`: stores the tree under DIR at PREFIX, skipping what is unchanged. */
export async function writeTreeCommand(prefix: string, directory: string, storage: Pick<StorageOptions, 'compression' | 'encryption' | 'timeout' | 'retries'>, options: TreeCommandOptions, streams: CliStreams): Promise<ExitCode> {
  const keyring = keysFor(wantsEncryption(storage));
  const backend = backendFor(options, streams.env);
  const choice = options.queue === undefined ? undefined : chooseQueue(options.queue);
  const queue = choice === undefined ? undefined : await openCliQueue(choice);
  const view = new TreeView(streams, options.json === true);
  return withInterruption(streams, 'stored', view, (signal) =>
    storeTree({
      source: directory,
      prefix,
      backend,
      ...(queue === undefined ? {} : { queue }),
      ...(keyring === undefined ? {} : { keyring }),
      options: storage,
      concurrency: concurrencyOf(options),
      deleteMissing: options.delete === true,
      signal,
      onFile: (outcome) => { view.file(outcome); },
      onProgress: (progress) => { view.progress(progress); },
    }),
  );
}

/** `taskforge read PREFIX -o DIR --recursive`: restores the tree stored at PREFIX into DIR. */
export async function readTreeCommand(prefix: string, directory: string, options: TreeCommandOptions, streams: CliStreams): Promise<ExitCode> {
  const keyring = keysFor(false);
  const present = await lstat(directory).catch(() => undefined);
  if (present !== undefined && !present.isDirectory()) {
    throw new UsageError(`NOT_A_DIRECTORY: -o ${directory} is ${present.isSymbolicLink() ? 'a link' : 'a file'}: a tree is restored into a folder (one that is missing is made); nothing was written`);
  }
  const view = new TreeView(streams, options.json === true);
  return withInterruption(streams, 'restored', view, (signal) =>
    restoreTree({
      prefix,
      destination: directory,
      backend: backendFor(options, streams.env),
      ...(keyring === undefined ? {} : { keyring }),
      encrypted: options.encrypted === true,
      concurrency: concurrencyOf(options),
      signal,
      onFile: (outcome) => { view.file(outcome); },
      onProgress: (progress) => { view.progress(progress); },
    }),
  );
}

async function withInterruption(streams: CliStreams, verb: 'stored' | 'restored', view: TreeView, run: (signal: AbortSignal) => Promise<TreeSummary>): Promise<ExitCode> {
  const interruption = Interruption.watch(streams);
  let summary: TreeSummary;
  const started = new TreeTally(undefined, undefined);
  try {
    summary = await run(interruption.signal);
  } catch (error) {
    if (!isTaskforgeError(error)) throw error;
    // Stopped before any file (while the index or the listing was read): nothing was done, and the summary says so.
    if (error.code === ErrorCode.CANCELLED && interruption.signal.aborted) summary = started.summary(true);
    else {
      streams.stderr.write(`taskforge: ${error.code}: ${error.message}\n`);
      // A store refused before any file was done (its index, its listing, a tree stored encrypted asked to store in the clear):
      // exit 2, as every refusal before anything is done. (A restore of nothing, or of a link, fails as a read does: 1.)
      return verb === 'stored' && !view.toldAny ? ExitCode.USAGE : exitCodeOfError(error.code);
    }
  } finally {
    interruption.stop();
  }
  view.summary(summary, verb);
  if (summary.interrupted) {
    streams.stderr.write(`taskforge: interrupted by ${interruption.by ?? 'a signal'}: ${String(summary.stored)} files were ${verb} whole, none half; the same command again does the rest\n`);
    if (summary.uploadsLeft.length > 0) streams.stderr.write(uploadsLeftLine(summary.uploadsLeft));
    return ExitCode.TASK_FAILED;
  }
  return summary.failed > 0 ? ExitCode.TASK_FAILED : ExitCode.OK;
}

/** What an interrupted store left in the store: the parts of uploads cut off that the store would not remove. */
function uploadsLeftLine(paths: readonly string[]): string {
  const named = paths.length <= 5 ? paths.join(', ') : `${paths.slice(0, 5).join(', ')} and ${String(paths.length - 5)} more`;
  return `taskforge: the parts already sent of ${String(paths.length)} cut-off ${paths.length === 1 ? 'file' : 'files'} could not be removed from the store (${named}): they stay, billed, until a lifecycle rule for incomplete multipart uploads removes them\n`;
}

/** The keys from the environment; for --encrypt, a missing key is a config error before anything is stored. */
function keysFor(required: boolean) {
  let keyring;
  try {
    keyring = defaultKeyring();
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (required && keyring === undefined) throw new UsageError('KEY_NOT_FOUND: --encrypt needs a key: set TASKFORGE_ENCRYPTION_KEY (taskforge keygen makes one) or TASKFORGE_KEYRING; nothing was stored');
  return keyring;
}

function concurrencyOf(options: TreeCommandOptions): number {
  const concurrency = options.concurrency ?? 8;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) throw new UsageError(`--concurrency: expected 1 to 256 (got ${String(concurrency)})`);
  return concurrency;
}
