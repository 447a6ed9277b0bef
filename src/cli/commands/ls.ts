import type { ListEntry } from '../../storage/backend.js';
import { MAX_LIST_LIMIT } from '../../tasks/storage-task-config.js';
import { backendFor, formatBytes, printJson, type CliStreams, type CommonOptions } from '../cli-context.js';
import { ExitCode } from '../exit-codes.js';
import { Interruption } from '../interruption.js';
import { sayIfRootMissing } from '../root-missing.js';
import { runOne } from '../run-one.js';

/** Options of `taskforge ls`. */
export interface LsCommandOptions extends CommonOptions {
  readonly recursive?: boolean;
  readonly limit?: number;
  /** Resume after the entries a listing stopped at (the cursor its --limit line gave). */
  readonly cursor?: string;
}

/**
 * Lists the entries under `path`, every page unless --limit stops it: then,
 * when more follow, stderr gives the cursor that goes on (--cursor). Ctrl-C
 * stops it (exit 1); so does a reader that stops reading (`| head`, exit 0).
 */
export async function lsCommand(path: string, options: LsCommandOptions, streams: CliStreams): Promise<ExitCode> {
  const backend = backendFor(options, streams.env);
  let remaining = options.limit ?? Number.POSITIVE_INFINITY;
  let cursor = options.cursor;
  let listed = 0;
  const interruption = Interruption.watch(streams);
  try {
    do {
      const listOptions = { recursive: options.recursive === true, limit: Math.min(remaining, MAX_LIST_LIMIT), ...(cursor === undefined ? {} : { cursor }) };
      const ran = await runOne({ type: 'storage', metadata: { operation: 'list', path, options: listOptions } }, backend, streams, `listing ${path}`, { interruption, json: options.json === true });
      if (interruption.signal.aborted) return interruption.outputClosed ? ExitCode.OK : ExitCode.TASK_FAILED;
      if (!ran.result.success) return ran.exitCode;
      const page = ran.result.data;
      for (const entry of page.entries) print(entry, options, streams);
      listed += page.entries.length;
      remaining -= page.entries.length;
      cursor = page.cursor;
    } while (cursor !== undefined && remaining > 0);
  } finally {
    interruption.stop();
  }
  // (On stderr: stdout holds entries alone, whatever reads it.)
  if (cursor !== undefined) streams.stderr.write(`taskforge ls: stopped at --limit ${String(options.limit)}; more entries follow: go on with --cursor ${cursor}\n`);
  if (listed === 0 && options.cursor === undefined) await sayIfRootMissing(backend, streams);
  return ExitCode.OK;
}

function print(entry: ListEntry, options: LsCommandOptions, streams: CliStreams): void {
  if (options.json === true) {
    printJson(streams, entry);
    return;
  }
  const size = entry.type === 'directory' ? '-' : formatBytes(entry.size);
  streams.stdout.write(`${entry.type === 'directory' ? 'd' : '-'}  ${size.padStart(10)}  ${entry.modifiedAt}  ${entry.path}${entry.type === 'directory' ? '/' : ''}\n`);
}
