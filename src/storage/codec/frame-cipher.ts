import { createCipheriv, createDecipheriv, createHash, hkdfSync } from 'node:crypto';
import { TAG_BYTES } from './container-format.js';
import { malformed } from './container-format.js';

const HKDF_INFO = Buffer.from('taskforge/v1/aes-256-gcm', 'ascii');
const CONTEXT_LABEL = Buffer.from('taskforge/v1/context\0', 'ascii');

/**
 * Seals and opens the frames of one object: AES-256-GCM under a per-object
 * key HKDF-SHA256(master, salt), a nonce from the frame counter, and
 * associated data binding the header, the storage path and the frame flags.
 */
export class FrameCipher {
  readonly #key: Buffer;
  readonly #context: Buffer;

  constructor(masterKey: Buffer, salt: Buffer, headerBytes: Buffer, path: string) {
    this.#key = Buffer.from(hkdfSync('sha256', masterKey, salt, HKDF_INFO, 32));
    const pathBytes = Buffer.from(path, 'utf8');
    const pathLength = Buffer.alloc(4);
    pathLength.writeUInt32BE(pathBytes.byteLength);
    // Everything a frame must be bound to, hashed once: the header (so no
    // header byte can change) and the path (so two objects cannot be swapped).
    this.#context = createHash('sha256').update(CONTEXT_LABEL).update(headerBytes).update(pathLength).update(pathBytes).digest();
  }

  /** Encrypts one frame's payload; returns ciphertext and tag. */
  seal(counter: number, flags: number, plaintext: Buffer): { readonly ciphertext: Buffer; readonly tag: Buffer } {
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonce(counter), { authTagLength: TAG_BYTES });
    cipher.setAAD(this.#aad(flags));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return { ciphertext, tag: cipher.getAuthTag() };
  }

  /**
   * Decrypts one frame and checks its tag before returning anything: no
   * plaintext of a frame is released unless the whole frame is authentic.
   */
  open(counter: number, flags: number, ciphertext: Buffer, tag: Buffer, path: string): Buffer {
    const decipher = createDecipheriv('aes-256-gcm', this.#key, nonce(counter), { authTagLength: TAG_BYTES });
    decipher.setAAD(this.#aad(flags));
    decipher.setAuthTag(tag);
    const plaintext = decipher.update(ciphertext);
    try {
      decipher.final();
    } catch {
      throw malformed(path, `chunk ${counter} failed authentication (wrong key, or the bytes, their order, the header or the path changed)`);
    }
    return plaintext;
  }

  #aad(flags: number): Buffer {
    return Buffer.concat([this.#context, Buffer.from([flags])]);
  }
}

/** 96-bit GCM nonce: 4 zero bytes, then the frame counter. Unique per key, as each object has its own key. */
function nonce(counter: number): Buffer {
  const bytes = Buffer.alloc(12);
  bytes.writeBigUInt64BE(BigInt(counter), 4);
  return bytes;
}
