import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import type { ListPage, StorageBackend } from '../../src/storage/backend.js';
import { S3Backend } from '../../src/storage/backends/s3.js';
import { Keyring } from '../../src/storage/codec/keyring.js';
import { StorageTask } from '../../src/tasks/storage-task.js';
import type { StorageMetadata } from '../../src/tasks/storage-task-config.js';
import type { TaskResult } from '../../src/tasks/task-result.js';
import { decodeBytes, failureCode } from '../helpers/codec.js';
import { useFileSystemFixture } from '../helpers/fs-fixture.js';
import { referenceDecode, referenceS3Key } from '../helpers/reference-format.js';
import { useS3Server } from '../helpers/use-s3-server.js';

/*
 * What docs/format.md says about the path an object is bound to ("The path"),
 * shown on what real backends store: the bytes are fetched from the backend
 * beneath taskforge and decoded by the reference written from the page alone.
 */

interface Vector {
  name: string;
  keyHex: string;
  keyId: string;
  path: string;
  plaintext: string;
  refusedPaths: string[];
  s3: { prefix: string; key: string };
  storedHex: string;
}

const { vectors } = JSON.parse(readFileSync('test/vectors/container-v1.json', 'utf8')) as { vectors: (Omit<Vector, 's3'> & { s3?: Vector['s3'] })[] };
const s3Vector = vectors.find((vector): vector is Vector => vector.s3 !== undefined);
const masterKey = Buffer.from(s3Vector?.keyHex ?? '', 'hex');
const keyring = new Keyring({ keys: { [s3Vector?.keyId ?? 'k']: masterKey } });
// Escapes, so that no editor can turn one form into the other.
const nfc = '/caf\u00e9.txt';
const nfd = '/cafe\u0301.txt';

const s3Server = useS3Server('format-paths');

function s3(): { readonly bucket: string; readonly client: S3Client } {
  const { server, client } = s3Server();
  return { bucket: server.bucket, client };
}

function s3Backend(prefix: string): S3Backend {
  const { bucket, client: shared } = s3();
  return new S3Backend({ bucket, prefix, client: shared });
}

async function getObject(key: string): Promise<Buffer> {
  const { bucket, client: shared } = s3();
  const response = await shared.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await response.Body?.transformToByteArray() ?? new Uint8Array());
}

async function putObject(key: string, bytes: Buffer): Promise<void> {
  const { bucket, client: shared } = s3();
  await shared.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes }));
}

function run(backend: StorageBackend, metadata: StorageMetadata, keys: Keyring = keyring): Promise<TaskResult> {
  return new StorageTask({ type: 'storage', metadata }, { backend, keyring: keys }).execute();
}

function vector(): Vector {
  if (s3Vector === undefined) throw new Error('no S3 vector in test/vectors/container-v1.json');
  return s3Vector;
}

describe('S3: the authenticated path is the path below the key prefix (docs/format.md, "The path")', () => {
  it('an object written through a backend with a prefix is at prefix + path, and decodes under the path without the prefix only', async () => {
    const { path, s3: { prefix, key }, plaintext, refusedPaths } = vector();
    const written = await run(s3Backend(prefix), { operation: 'write', path, data: JSON.parse(plaintext), options: { encryption: true } });
    expect(written.success).toBe(true);
    expect(referenceS3Key(prefix, path)).toBe(key);
    const stored = await getObject(key);
    const decoded = referenceDecode(stored, masterKey, path);
    expect(decoded.plaintext.toString('utf8')).toBe(plaintext);
    expect(decoded.kind).toBe(2);
    expect(refusedPaths).toContain(`/${key}`);
    for (const refused of refusedPaths) {
      expect(() => referenceDecode(stored, masterKey, refused), refused).toThrow(/authenticate/);
      expect(await failureCode(decodeBytes(stored, { path: refused, keyring })), refused).toBe('INTEGRITY_ERROR');
    }
  });

  it('the vector\'s bytes, put at its key by another tool, read through a backend with its prefix, given with or without the slash', async () => {
    const { path, s3: { prefix, key }, plaintext, storedHex } = vector();
    await putObject(key, Buffer.from(storedHex, 'hex'));
    for (const given of [prefix, prefix.replace(/\/$/, '')]) {
      const read = await run(s3Backend(given), { operation: 'read', path, options: { encryption: true } });
      expect(read.error?.code, given).toBeUndefined();
      expect(read.data, given).toEqual(JSON.parse(plaintext));
    }
  });

  it('a copy to the same path under another prefix reads there; a copy to another path is INTEGRITY_ERROR', async () => {
    const { path, s3: { key }, plaintext, storedHex } = vector();
    const stored = Buffer.from(storedHex, 'hex');
    await putObject(referenceS3Key('tenant-b', path), stored);
    const copied = await run(s3Backend('tenant-b'), { operation: 'read', path, options: { encryption: true } });
    expect(copied.data).toEqual(JSON.parse(plaintext));
    // A tenant with a key of its own does not hold the key the copy names.
    const ownKey = new Keyring({ keys: { 'tenant-b-key': randomBytes(32) } });
    expect((await run(s3Backend('tenant-b'), { operation: 'read', path, options: { encryption: true } }, ownKey)).error?.code).toBe('KEY_NOT_FOUND');
    const moved = `${path}.moved`;
    await putObject(`${key}.moved`, stored);
    expect((await run(s3Backend(vector().s3.prefix), { operation: 'read', path: moved, options: { encryption: true } })).error?.code).toBe('INTEGRITY_ERROR');
  });
});

/** Where each backend keeps an object's bytes, read beneath taskforge. */
interface RealBackend {
  readonly backend: StorageBackend;
  readonly storedBytes: (path: string) => Promise<Buffer>;
}

function describeUnicodePaths(name: string, make: () => RealBackend): void {
  describe(`${name}: no Unicode normalisation (docs/format.md, "The path")`, () => {
    it('the NFC and NFD forms of one visible name are two objects, each bound to its own bytes', async () => {
      const { backend, storedBytes } = make();
      expect(nfc).not.toBe(nfd);
      expect(nfc.normalize('NFD')).toBe(nfd);
      for (const path of [nfc, nfd]) {
        const written = await run(backend, { operation: 'write', path, data: `written as ${path === nfc ? 'NFC' : 'NFD'}`, options: { encryption: true } });
        expect(written.success, path).toBe(true);
      }
      const listed = await run(backend, { operation: 'list', path: '/' });
      expect((listed.data as ListPage).entries.map((entry) => entry.path).sort()).toEqual([nfc, nfd].sort());
      expect((await run(backend, { operation: 'read', path: nfc, options: { encryption: true } })).data).toBe('written as NFC');
      expect((await run(backend, { operation: 'read', path: nfd, options: { encryption: true } })).data).toBe('written as NFD');

      const nfdObject = await storedBytes(nfd);
      expect(referenceDecode(nfdObject, masterKey, nfd).plaintext.toString('utf8')).toBe('written as NFD');
      expect(() => referenceDecode(nfdObject, masterKey, nfc)).toThrow(/authenticate/);
      expect(await failureCode(decodeBytes(nfdObject, { path: nfc, keyring }))).toBe('INTEGRITY_ERROR');
    });
  });
}

describe('on the filesystem', () => {
  const fixture = useFileSystemFixture();
  describeUnicodePaths('filesystem', () => ({
    backend: fixture.backend,
    storedBytes: (path) => readFile(join(fixture.root, path)),
  }));
});

describeUnicodePaths('S3 (s3rver)', () => {
  const prefix = `u${randomBytes(6).toString('hex')}/`;
  return { backend: s3Backend(prefix), storedBytes: (path) => getObject(referenceS3Key(prefix, path)) };
});
