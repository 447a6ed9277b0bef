import { backendFor, printJson, type CliStreams, type CommonOptions } from '../cli-context.js';
import type { ExitCode } from '../exit-codes.js';
import { runOne } from '../run-one.js';

/** Options of `taskforge rm`. */
export interface RmCommandOptions extends CommonOptions {
  readonly recursive?: boolean;
}

/** Deletes the object (or, with --recursive, the tree) at `path`; deleting nothing is not an error. */
export async function rmCommand(path: string, options: RmCommandOptions, streams: CliStreams): Promise<ExitCode> {
  const { result, exitCode } = await runOne(
    { type: 'storage', metadata: { operation: 'delete', path, options: { recursive: options.recursive === true } } },
    backendFor(options, streams.env),
    streams,
    `deleting ${path}`,
    { json: options.json === true },
  );
  if (result.success) {
    const deleted = result.data;
    if (options.json === true) printJson(streams, deleted);
    else streams.stdout.write(deleted.deleted ? `deleted ${deleted.path}\n` : `nothing at ${deleted.path}\n`);
  }
  return exitCode;
}
