import { stat } from 'node:fs/promises';
import type { StorageBackend } from '../storage/backend.js';
import { FileSystemBackend } from '../storage/backends/filesystem.js';
import type { CliStreams } from './cli-context.js';

/**
 * Says so when an empty listing came from a storage root that is not there:
 * a mistyped --root would otherwise look like an empty store (`ls`, and a
 * `list` task of a `run` batch).
 */
export async function sayIfRootMissing(backend: StorageBackend, streams: CliStreams): Promise<void> {
  if (!(backend instanceof FileSystemBackend)) return;
  const root = backend.rootDirectory;
  const there = await stat(root).then(
    () => true,
    () => false,
  );
  if (!there) streams.stderr.write(`taskforge: nothing is stored: the storage root ${root} does not exist (does --root or TASKFORGE_STORAGE_ROOT name another folder?)\n`);
}
