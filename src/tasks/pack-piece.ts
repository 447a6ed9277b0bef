import { ErrorCode, TaskforgeError } from '../core/errors.js';
import { looksLikeContainer } from '../storage/codec/container-format.js';
import type { Keyring } from '../storage/codec/keyring.js';
import { decodeWhole } from '../storage/codec/whole-decoder.js';
import { limitExceeded } from '../storage/object-reader.js';

/** Where in a pack (an object of the tree's prefix holding many small files) a file's container is. */
export interface PackRef {
  /** The pack's name in the tree's prefix. */
  readonly name: string;
  readonly offset: number;
  readonly length: number;
}

/**
 * The piece of a pack's bytes that holds one file: its own container,
 * whole. INTEGRITY_ERROR when the index's entry cannot be it (it runs past
 * the pack, or no container starts there: a plain piece must never be
 * taken for the file's bytes).
 */
export function packPiece(pack: Buffer, ref: PackRef, path: string): Buffer {
  if (ref.offset + ref.length > pack.byteLength) throw damagedEntry(path, ref, `it ends past the pack's ${String(pack.byteLength)} bytes`);
  const piece = pack.subarray(ref.offset, ref.offset + ref.length);
  if (!looksLikeContainer(piece)) throw damagedEntry(path, ref, 'no container starts there');
  return piece;
}

export function damagedEntry(path: string, ref: PackRef, why: string): TaskforgeError {
  return new TaskforgeError(ErrorCode.INTEGRITY_ERROR, `read of '${path}' failed: its entry in the pack '${ref.name}' (offset ${String(ref.offset)}, ${String(ref.length)} bytes) cannot be used: ${why}`, {
    details: { path, pack: ref.name },
  });
}


/**
 * A packed file's bytes from its container, checked as an object is
 * (decrypted and authenticated against its storage path, so an entry
 * moved to another path in a tampered index does not open), and its size
 * against the index.
 */
export async function decodePiece(piece: Buffer, ref: PackRef, path: string, size: number, access: { readonly keyring: Keyring | undefined; readonly requireEncryption: boolean }): Promise<Buffer> {
  const content = await decodeWhole(piece, { path, requireEncryption: access.requireEncryption, keyring: () => access.keyring }, { maxBytes: size, tooLarge: () => limitExceeded(path, size) });
  if (content.byteLength !== size) throw damagedEntry(path, ref, `it holds ${String(content.byteLength)} bytes where the index records ${String(size)}`);
  return content;
}
