import { ErrorCode, TaskforgeError } from '../core/errors.js';
import type { ObjectMetadata } from './backend.js';
import { ByteReader } from './codec/byte-reader.js';
import { CONTAINER_MAGIC, looksLikeContainer, looksLikeDamagedContainer, malformed } from './codec/container-format.js';
import { openContainer, type DecodeOptions, type KeyBinding } from './codec/decoder.js';
import { CONTENT_KIND_KEY, kindOf, type ContentKind } from './content.js';

/** How to read one object: a container's decode options (`requireEncryption` refuses plain objects too), and a size limit. */
export interface ReadPlan extends Omit<DecodeOptions, 'parallelism'> {
  /** Fail with LIMIT_EXCEEDED past this many (decoded) bytes. */
  readonly maxBytes?: number;
}

/** An object's bytes as written, whatever the stored form. */
export interface DecodedObject {
  readonly kind: ContentKind;
  readonly body: AsyncGenerator<Buffer, void, undefined>;
  readonly encrypted: boolean;
  /** For an encrypted object, the key that opened it. */
  readonly key?: KeyBinding;
}

/**
 * Turns an opened object into the bytes that were written: a container
 * (recognised by its magic bytes) is checked, decrypted and decompressed as
 * it streams; a plain object passes through, with the kind its metadata
 * records.
 */
export async function decodeStoredObject(opened: { readonly metadata: ObjectMetadata; readonly body: AsyncIterable<Uint8Array> }, plan: ReadPlan): Promise<DecodedObject> {
  const reader = new ByteReader(opened.body);
  const head = await reader.peek(CONTAINER_MAGIC.length);
  if (looksLikeContainer(head)) {
    const container = await openContainer(reader, {
      path: plan.path,
      requireEncryption: plan.requireEncryption,
      ...(plan.keyring === undefined ? {} : { keyring: plan.keyring }),
    });
    // The limit counts decoded bytes: a small "zip bomb" object stops here, not in memory.
    const decoded = { kind: container.header.kind, body: limit(container.body, plan), encrypted: container.header.encryption !== undefined };
    return container.key === undefined ? decoded : { ...decoded, key: container.key };
  }
  // (A plain object taskforge wrote as text or JSON says so; one of bytes, or another program's file, does not.)
  if (opened.metadata[CONTENT_KIND_KEY] === undefined && looksLikeDamagedContainer(head)) {
    await reader.close();
    throw malformed(plan.path, head.byteLength < CONTAINER_MAGIC.length ? 'it is cut short within its first bytes' : 'its first bytes, which mark a taskforge container, are changed');
  }
  if (plan.requireEncryption) {
    await reader.close();
    throw new TaskforgeError(ErrorCode.ENCRYPTION_REQUIRED, `read of '${plan.path}' failed: encryption was required and the stored object is plain`, {
      details: { path: plan.path },
    });
  }
  return { kind: kindOf(opened.metadata), body: limit(reader.remaining(), plan), encrypted: false };
}

function limit(source: AsyncGenerator<Buffer, void, undefined>, plan: ReadPlan): AsyncGenerator<Buffer, void, undefined> {
  return plan.maxBytes === undefined ? source : limited(source, plan.maxBytes, plan.path);
}

async function* limited(source: AsyncIterable<Buffer>, maxBytes: number, path: string): AsyncGenerator<Buffer, void, undefined> {
  let total = 0;
  for await (const chunk of source) {
    total += chunk.byteLength;
    if (total > maxBytes) throw limitExceeded(path, maxBytes);
    yield chunk;
  }
}

/** The LIMIT_EXCEEDED of a read of `path` whose decoded bytes passed `maxBytes`. */
export function limitExceeded(path: string, maxBytes: number): TaskforgeError {
  return new TaskforgeError(ErrorCode.LIMIT_EXCEEDED, `read of '${path}' failed: it is larger than the ${maxBytes}-byte limit (maxBytes)`, { details: { path, maxBytes } });
}
