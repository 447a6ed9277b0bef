import { controlCharacterIn } from '../core/control-characters.js';
import { RESERVED_PREFIX, TREE_INDEX_NAME } from './storage-path.js';

/**
 * Whether `name` can be one segment of a storage path: exactly the segments
 * `parseStoragePath` accepts (not empty, not `.` or `..`, no NUL or other
 * control character, not reserved). A name that fails this cannot be
 * read, written or deleted through taskforge, so no backend lists it: names
 * starting with `.taskforge-` are hidden and refused on every backend, one
 * rule, whether taskforge or another program put them there.
 */
export function isStorageName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.startsWith(RESERVED_PREFIX) && controlCharacterIn(name) === undefined;
}

/** Whether a listing shows an entry named `name`: a storage name, or a tree's index when the listing asks for them (ListOptions.treeIndexes). */
export function isListedName(name: string, treeIndexes: boolean | undefined): boolean {
  return isStorageName(name) || (treeIndexes === true && name === TREE_INDEX_NAME);
}
