import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { ErrorCode, TaskforgeError } from '../../core/errors.js';
import { LOCAL_FILE_WORDS, systemErrorReason } from '../../core/system-errors.js';
import { KEY_ID_PATTERN } from './container-format.js';

/** Master keys are 256 bits. */
export const KEY_BYTES = 32;

/** Options of {@link Keyring}. */
export interface KeyringOptions {
  /** Named keys: 32 bytes each, as a Buffer or base64. */
  readonly keys: Readonly<Record<string, Uint8Array | string>>;
  /** The key new writes use. Default: the only key, when there is one. */
  readonly active?: string;
}

/**
 * Named 256-bit master keys: one active for new writes, the others kept so
 * that objects written under them still read (rotation). Keys never appear
 * in a message, a log line, JSON or `util.inspect` output.
 */
export class Keyring {
  readonly #keys: ReadonlyMap<string, Buffer>;
  readonly #fingerprints = new Map<string, string>();
  readonly #activeKey: Buffer;
  readonly activeKeyId: string;

  constructor(options: KeyringOptions) {
    const keys = new Map<string, Buffer>();
    for (const [id, value] of Object.entries(options.keys)) {
      if (!KEY_ID_PATTERN.test(id)) throw keyringError(`key id '${id.slice(0, 80)}' is invalid: expected 1 to 64 of A-Z a-z 0-9 . _ -`);
      keys.set(id, decodeKey(value, id));
    }
    const active = options.active ?? (keys.size === 1 ? [...keys.keys()][0] : undefined);
    if (active === undefined) throw keyringError(`a keyring of ${keys.size} keys must name its active key`);
    if (!keys.has(active)) throw keyringError(`the active key '${active}' is not in the keyring`);

    this.#keys = keys;
    this.activeKeyId = active;
    this.#activeKey = keys.get(active) ?? Buffer.alloc(0);
  }

  /** A keyring of one key, named by its fingerprint so that a changed key is told apart from the old one. */
  static fromKey(key: Uint8Array | string): Keyring {
    const bytes = decodeKey(key, 'TASKFORGE_ENCRYPTION_KEY');
    return new Keyring({ keys: { [fingerprint(bytes)]: bytes } });
  }

  /**
   * Reads a keyring file: JSON `{ "active": "id", "keys": { "id": "base64", ... } }`.
   */
  static fromFile(path: string): Keyring {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      throw keyringError(`the keyring file ${path} cannot be read: ${systemErrorReason(error, LOCAL_FILE_WORDS)}`, error);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw keyringError(`the keyring file ${path} is not JSON: ${error instanceof Error ? error.message : String(error)}`, error);
    }
    if (parsed === null || typeof parsed !== 'object' || typeof (parsed as { keys?: unknown }).keys !== 'object') {
      throw keyringError(`the keyring file ${path} must hold { "active": "id", "keys": { "id": "base64 key" } }`);
    }
    const { keys, active } = parsed as { keys: Record<string, string>; active?: unknown };
    return new Keyring({ keys, ...(typeof active === 'string' ? { active } : {}) });
  }

  /**
   * The keyring the environment names: `TASKFORGE_KEYRING` (a file) or
   * `TASKFORGE_ENCRYPTION_KEY` (one base64 key); undefined when neither is set.
   */
  static fromEnvironment(env: NodeJS.ProcessEnv = process.env): Keyring | undefined {
    const file = env['TASKFORGE_KEYRING'];
    if (file !== undefined && file !== '') return Keyring.fromFile(file);
    const key = env['TASKFORGE_ENCRYPTION_KEY'];
    if (key !== undefined && key !== '') return Keyring.fromKey(key);
    return undefined;
  }

  /** The ids of the keys held, active first. */
  get keyIds(): string[] {
    return [this.activeKeyId, ...[...this.#keys.keys()].filter((id) => id !== this.activeKeyId)];
  }

  /** The active key, for a new write. */
  activeKey(): { readonly id: string; readonly key: Buffer } {
    return { id: this.activeKeyId, key: this.#activeKey };
  }

  /** The key with this id; KEY_NOT_FOUND when the keyring does not hold it. */
  key(id: string, path: string): Buffer {
    const key = this.#held(id);
    if (key === undefined) {
      throw new TaskforgeError(ErrorCode.KEY_NOT_FOUND, `read of '${path}' failed: it is encrypted under key '${id}', which the keyring does not hold (it holds ${this.keyIds.map((keyId) => `'${keyId}'`).join(', ')})`, {
        details: { path, keyId: id },
      });
    }
    return key;
  }

  /**
   * The fingerprint of the key held under `id` (see {@link fingerprint}), or
   * undefined when the keyring holds no such key. What a cached plaintext is
   * bound to: ids are names users choose, so two keyrings may both call
   * different keys "main".
   */
  fingerprintOf(id: string): string | undefined {
    let known = this.#fingerprints.get(id);
    if (known === undefined) {
      const key = this.#held(id);
      if (key === undefined) return undefined;
      known = fingerprint(key);
      this.#fingerprints.set(id, known);
    }
    return known;
  }

  /**
   * The key held under `id`; for a fingerprint id (`k-…`, what a single key
   * from TASKFORGE_ENCRYPTION_KEY or `fromKey` writes under), also a key held
   * under another name whose fingerprint it is: a keyring made for a
   * rotation, naming its keys by date, still reads what that key wrote.
   */
  #held(id: string): Buffer | undefined {
    const named = this.#keys.get(id);
    if (named !== undefined || !id.startsWith('k-')) return named;
    for (const key of this.#keys.values()) if (fingerprint(key) === id) return key;
    return undefined;
  }

  toJSON(): { activeKeyId: string; keyIds: string[] } {
    return { activeKeyId: this.activeKeyId, keyIds: this.keyIds };
  }

  toString(): string {
    return `Keyring { active: '${this.activeKeyId}', keys: [${this.keyIds.map((id) => `'${id}'`).join(', ')}] }`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

/** A short, non-secret name for a key: the first 8 bytes of a SHA-256 over it, in hex. */
export function fingerprint(key: Uint8Array): string {
  return `k-${createHash('sha256').update('taskforge key id\0').update(key).digest('hex').slice(0, 16)}`;
}

function decodeKey(value: Uint8Array | string, id: string): Buffer {
  // Node's base64 decoder skips what is not base64: checked first, so that a pasted passphrase is named as such, not as too short.
  if (typeof value === 'string' && !/^[A-Za-z0-9+/\-_]*={0,2}$/.test(value.trim())) {
    throw keyringError(`key '${id}' is not base64 (a key is base64 of 32 random bytes, e.g. from \`taskforge keygen\` or \`openssl rand -base64 32\`)`);
  }
  const bytes = typeof value === 'string' ? Buffer.from(value.trim(), 'base64') : Buffer.from(value);
  if (bytes.byteLength !== KEY_BYTES) {
    // 64 hex digits are also base64 (of 48 bytes): the likely mistake is named.
    const hex = typeof value === 'string' && /^[0-9a-fA-F]{64}$/.test(value.trim()) ? '; it looks like hex (openssl rand -hex 32): give it in base64, e.g. `echo HEX | xxd -r -p | base64`' : '';
    throw keyringError(`key '${id}' must be ${KEY_BYTES} bytes (base64 of 32 random bytes, e.g. from \`taskforge keygen\` or \`openssl rand -base64 32\`); it is ${bytes.byteLength} bytes${hex}`);
  }
  return bytes;
}

function keyringError(message: string, cause?: unknown): TaskforgeError {
  return new TaskforgeError(ErrorCode.VALIDATION_ERROR, `invalid keyring: ${message}`, cause === undefined ? {} : { cause });
}
