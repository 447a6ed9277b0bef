import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { errnoOf } from '../../core/system-errors.js';
import type { ObjectMetadata } from '../backend.js';
import { RESERVED_PREFIX } from '../storage-path.js';
import { temporaryName } from './temporary-file.js';

/**
 * Object metadata on the filesystem lives in a small JSON "sidecar" file
 * beside the object (`.taskforge-meta-NAME`), so that a plain object's own
 * file keeps exactly its bytes. The sidecar names the file it describes by
 * inode, size and mtime: a file replaced or edited by another program no
 * longer matches and reads as plain bytes, never with stale metadata. It
 * also keeps the entry of the file it replaces, so a reader that opened the
 * old file between the sidecar's rename and the object's still matches.
 */
interface SidecarEntry {
  readonly identity: string;
  readonly metadata: Record<string, string>;
}

interface SidecarFile {
  readonly version: 1;
  readonly entries: SidecarEntry[];
}

/** Names whose sidecar name would pass the usual 255-byte limit are hashed. */
const MAX_PLAIN_NAME_BYTES = 200;

/** The identity of a file's content as the sidecar records it. */
export function fileIdentity(stats: BigIntStats): string {
  return `${stats.ino}:${stats.size}:${stats.mtimeNs}`;
}

/** The host path of the sidecar of the object at `hostPath`. */
export function sidecarPath(hostPath: string): string {
  const name = basename(hostPath);
  const tag = Buffer.byteLength(name) > MAX_PLAIN_NAME_BYTES ? `h-${createHash('sha256').update(name).digest('hex')}` : name;
  return join(dirname(hostPath), `${RESERVED_PREFIX}meta-${tag}`);
}

/** The metadata recorded for the file with `identity`; empty when none matches. */
export async function readSidecar(hostPath: string, identity: string): Promise<ObjectMetadata> {
  const sidecar = await loadSidecar(hostPath);
  return sidecar?.entries.find((entry) => entry.identity === identity)?.metadata ?? {};
}

/**
 * Records `metadata` for the file about to be renamed into place, keeping the
 * entry of the file now in place (`currentIdentity`). Written to a temporary
 * file, synced and renamed, like the object itself.
 */
export async function writeSidecar(hostPath: string, identity: string, metadata: ObjectMetadata, currentIdentity: string | undefined): Promise<void> {
  const existing = await loadSidecar(hostPath);
  const kept = existing?.entries.filter((entry) => entry.identity === currentIdentity) ?? [];
  const content: SidecarFile = { version: 1, entries: [{ identity, metadata: { ...metadata } }, ...kept] };
  const temporary = join(dirname(hostPath), temporaryName());
  const handle = await open(temporary, 'wx');
  let renamed = false;
  try {
    try {
      await handle.writeFile(JSON.stringify(content));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, sidecarPath(hostPath));
    renamed = true;
  } finally {
    // Whatever failed (a full disk mid-write, the sync, the rename), no temporary file stays behind.
    if (!renamed) await unlink(temporary).catch(() => undefined);
  }
}

/** Removes the sidecar of `hostPath`, if any. */
export async function removeSidecar(hostPath: string): Promise<void> {
  try {
    await unlink(sidecarPath(hostPath));
  } catch (error) {
    if (errnoOf(error) !== 'ENOENT') throw error;
  }
}

async function loadSidecar(hostPath: string): Promise<SidecarFile | undefined> {
  let text: string;
  try {
    text = await readFile(sidecarPath(hostPath), 'utf8');
  } catch (error) {
    if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENOTDIR') return undefined;
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as Partial<SidecarFile>;
    return parsed.version === 1 && Array.isArray(parsed.entries) ? (parsed as SidecarFile) : undefined;
  } catch {
    // A damaged sidecar only loses the content kind; the object's bytes are its own.
    return undefined;
  }
}
