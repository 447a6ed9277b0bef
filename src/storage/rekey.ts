import { ErrorCode, TaskforgeError } from '../core/errors.js';
import { fromSystemError } from '../core/system-errors.js';
import type { StorageBackend } from './backend.js';
import { ByteReader } from './codec/byte-reader.js';
import { compressionChoice } from './codec/chunk-compression.js';
import { CONTAINER_MAGIC, looksLikeContainer } from './codec/container-format.js';
import { openContainer } from './codec/decoder.js';
import { encodeContainer } from './codec/encoder.js';
import type { Keyring } from './codec/keyring.js';
import { parseStoragePath } from './storage-path.js';

/** Options of {@link rekeyObject}. */
export interface RekeyOptions {
  readonly backend: StorageBackend;
  readonly keyring: Keyring;
  /** The storage path of an encrypted object. */
  readonly path: string;
  readonly signal?: AbortSignal;
}

/** What {@link rekeyObject} did. */
export interface RekeyResult {
  readonly path: string;
  /** False when the object was already under the active key. */
  readonly rekeyed: boolean;
  readonly fromKeyId: string;
  readonly toKeyId: string;
}

/**
 * Rewrites an encrypted object under the keyring's active key, streaming
 * (decrypt, then encrypt again with a new salt), and replaces it atomically:
 * readers see the old object or the new one. The content, kind and
 * compression stay as they were. A plain object gives ENCRYPTION_REQUIRED.
 *
 * Limit: a write to the same path by someone else while the rekey runs is
 * overwritten by the rekeyed old content; rekey when writers are quiet.
 */
export async function rekeyObject(options: RekeyOptions): Promise<RekeyResult> {
  const path = parseStoragePath(options.path);
  const signal = options.signal ?? new AbortController().signal;
  try {
    const opened = await options.backend.read(path, { signal });
    const reader = new ByteReader(opened.body);
    if (!looksLikeContainer(await reader.peek(CONTAINER_MAGIC.length))) {
      await reader.close();
      throw new TaskforgeError(ErrorCode.ENCRYPTION_REQUIRED, `rekey of '${path}' failed: the object is not encrypted`, { details: { path } });
    }
    const container = await openContainer(reader, { path, keyring: () => options.keyring, requireEncryption: true });
    const fromKeyId = container.header.encryption?.keyId ?? '';
    const active = options.keyring.activeKey();
    if (fromKeyId === active.id) {
      await container.body.return();
      return { path, rekeyed: false, fromKeyId, toKeyId: active.id };
    }
    const { compression, kind, chunkSize } = container.header;
    const encoded = encodeContainer(container.body, {
      kind,
      path,
      chunkSize,
      encryption: { keyId: active.id, key: active.key },
      ...(compression === 'none' ? {} : { compression: compressionChoice(compression) }),
    });
    await options.backend.write(path, encoded, { signal, overwrite: true, metadata: {} });
    return { path, rekeyed: true, fromKeyId, toKeyId: active.id };
  } catch (error) {
    throw fromSystemError(error, { operation: 'rekey', path });
  }
}
