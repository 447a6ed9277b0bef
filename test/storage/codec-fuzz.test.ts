import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { beforeAll, describe, it } from 'vitest';
import { CONTAINER_MAGIC, encodeHeader } from '../../src/storage/codec/container-format.js';
import { Keyring } from '../../src/storage/codec/keyring.js';
import { decodeBytes, encodeBytes, failureCode } from '../helpers/codec.js';
import { zstdHere } from '../helpers/zstd.js';

/** The only ways a damaged container may fail: coded, never a crash, never wrong data. */
const ALLOWED = ['INTEGRITY_ERROR', 'KEY_NOT_FOUND', 'ENCRYPTION_REQUIRED'];
const keyring = new Keyring({ keys: { fuzz: randomBytes(32) } });

describe('the container parser under fuzzing (fast-check)', () => {
  const valid: Buffer[] = [];

  beforeAll(async () => {
    const data = Buffer.from('fuzz me, fuzz me not; '.repeat(120));
    valid.push(await encodeBytes(data, { keyring, chunkSize: 1024 }));
    valid.push(await encodeBytes(data, { keyring, compression: 'gzip', chunkSize: 1024 }));
    valid.push(await encodeBytes(data, { compression: 'brotli', chunkSize: 1024 }));
    valid.push(await encodeBytes(data, { chunkSize: 1024 }));
    valid.push(await encodeBytes(data, { compression: zstdHere ? 'zstd' : 'gzip', chunkSize: 1024 }));
  });

  it('random bytes after the magic only ever give coded errors (5,000 cases)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 3000 }), fc.boolean(), async (tail, requireEncryption) => {
        const code = await failureCode(decodeBytes(Buffer.concat([CONTAINER_MAGIC, Buffer.from([1]), tail]), { keyring, requireEncryption }));
        return code === 'SUCCEEDED' || ALLOWED.includes(code);
      }),
      { numRuns: 5_000 },
    );
  });

  it('valid headers followed by random frames only ever give coded errors (5,000 cases)', async () => {
    const header = fc.record({
      compression: fc.constantFrom('none', 'gzip', 'brotli', ...(zstdHere ? (['zstd'] as const) : [])),
      kind: fc.constantFrom('bytes', 'text', 'json'),
      encrypted: fc.boolean(),
      salt: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    });
    await fc.assert(
      fc.asyncProperty(header, fc.uint8Array({ maxLength: 3000 }), async (fields, tail) => {
        const prefix = encodeHeader({
          compression: fields.compression,
          kind: fields.kind,
          chunkSize: 1024,
          ...(fields.encrypted ? { encryption: { keyId: 'fuzz', salt: Buffer.from(fields.salt) } } : {}),
        });
        const code = await failureCode(decodeBytes(Buffer.concat([prefix, tail]), { keyring }));
        return (code === 'SUCCEEDED' && !fields.encrypted) || ALLOWED.includes(code);
      }),
      { numRuns: 5_000 },
    );
  });

  it('mutated valid containers never decode to wrong data and only give coded errors (5,000 cases)', async () => {
    const mutation = fc.record({
      which: fc.nat({ max: 4 }),
      edits: fc.array(
        fc.record({ at: fc.nat(), kind: fc.constantFrom('flip', 'set', 'insert', 'delete', 'cut'), value: fc.integer({ min: 0, max: 255 }) }),
        { minLength: 1, maxLength: 4 },
      ),
    });
    await fc.assert(
      fc.asyncProperty(mutation, async ({ which, edits }) => {
        const original = valid[which] ?? Buffer.alloc(0);
        let bytes = Buffer.from(original);
        for (const edit of edits) {
          const at = edit.at % Math.max(1, bytes.length);
          if (edit.kind === 'flip') bytes[at] = (bytes[at] ?? 0) ^ (1 << edit.value % 8);
          else if (edit.kind === 'set') bytes[at] = edit.value;
          else if (edit.kind === 'insert') bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from([edit.value]), bytes.subarray(at)]);
          else if (edit.kind === 'delete') bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)]);
          else bytes = bytes.subarray(0, at);
        }
        try {
          const decoded = await decodeBytes(bytes, { keyring });
          // Only a mutation that changed nothing, or one in an unauthenticated
          // plain container, may decode; an encrypted one never decodes to other data.
          const encrypted = which < 2;
          return !encrypted || bytes.equals(original) || decoded.bytes.equals((await decodeBytes(original, { keyring })).bytes);
        } catch (error) {
          const code = (error as { code?: unknown }).code;
          // Without zstd here, a mutated compression byte that says zstd cannot be decoded at all.
          const noZstd = !zstdHere && code === 'UNSUPPORTED_OPTION';
          return typeof code === 'string' && (ALLOWED.includes(code) || noZstd);
        }
      }),
      { numRuns: 5_000 },
    );
  });

});
