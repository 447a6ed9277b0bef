import { isListedName } from '../storage-name.js';

/** What one key adds to the listing of the directory whose key prefix precedes it. */
export interface KeyEntries {
  /** The names from the listed directory down: `a/b/c` gives `a`, `b`, `c`. */
  readonly names: readonly string[];
  /** True when the last name is the key's own object (a file); else every name is a directory. */
  readonly endsInFile: boolean;
}

/**
 * Reads a key the way other S3 tools write them. A key ending in `/` is a
 * folder marker (the AWS console's "Create folder", rclone, s3cmd): it names
 * a directory, never a file with an empty name, and the marker of the listed
 * directory itself adds nothing. A name taskforge cannot address (reserved,
 * empty, `.`, `..`) hides itself and everything below it; the directories
 * above it still exist, as they would on a filesystem. With `treeIndexes`,
 * a tree's index is a file like any other (see ListOptions.treeIndexes).
 */
export function entriesOfKey(relativeKey: string, treeIndexes = false): KeyEntries {
  const names = relativeKey.split('/');
  const marker = names.at(-1) === '';
  if (marker) names.pop();
  // (Only as the key's last name: a folder so named is no tree's index.)
  const hidden = names.findIndex((name, index) => !isListedName(name, treeIndexes && index === names.length - 1 && !marker));
  if (hidden !== -1) return { names: names.slice(0, hidden), endsInFile: false };
  return { names, endsInFile: !marker && names.length > 0 };
}
