import { FileSystemBackend } from '../../storage/backends/filesystem.js';
import { backendFor, formatBytes, printJson, type CliStreams, type CommonOptions } from '../cli-context.js';
import { ExitCode, UsageError } from '../exit-codes.js';
import { plural } from '../cli-words.js';

/** Options of `taskforge sweep`. */
export interface SweepCommandOptions extends CommonOptions {
  /** Files no running writer can be traced to go once untouched for this long. */
  readonly olderThan: number;
}

/**
 * Removes what killed writers left in a filesystem store: temporary files of
 * writes that can never finish, and metadata files whose object is gone.
 * A write still running keeps its file.
 */
export async function sweepCommand(options: SweepCommandOptions, streams: CliStreams): Promise<ExitCode> {
  const backend = backendFor(options, streams.env);
  if (!(backend instanceof FileSystemBackend)) {
    throw new UsageError(
      `sweep cleans a filesystem store; ${backend.name} keeps no temporary files (an S3 upload cut off leaves an incomplete multipart upload: a bucket lifecycle rule AbortIncompleteMultipartUpload removes those)`,
    );
  }
  const report = await backend.sweepLeftovers({ olderThanMs: options.olderThan });
  if (options.json === true) printJson(streams, { root: backend.root, ...report });
  else {
    const kept = report.kept === 0 ? '' : `; kept ${plural(report.kept, 'temporary file')} a running write may still need`;
    streams.stdout.write(
      `removed ${plural(report.temporaryFiles, 'temporary file')} and ${plural(report.orphanedMetadata, 'orphaned metadata file')} (${formatBytes(report.bytesFreed)}) from ${backend.root}${kept}\n`,
    );
  }
  return ExitCode.OK;
}
