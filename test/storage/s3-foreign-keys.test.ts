import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import type { ListPage } from '../../src/storage/backend.js';
import { entriesOfKey } from '../../src/storage/backends/s3-keys.js';
import { S3Backend } from '../../src/storage/backends/s3.js';
import { isStorageName } from '../../src/storage/storage-name.js';
import { parseStoragePath } from '../../src/storage/storage-path.js';
import { useS3Server } from '../helpers/use-s3-server.js';
import { expectData } from '../helpers/storage.js';

// Buckets written by other tools: the AWS console's "Create folder", rclone and s3cmd leave
// zero-byte `dir/` folder markers; anyone can write a key named `.taskforge-*`. The rules
// every backend shares are in the conformance suite; these are the S3-only cases.

const s3 = useS3Server('foreign');

/** Puts keys as another tool would: plain PUTs, nothing of taskforge's. */
async function putKeys(keys: readonly string[]): Promise<void> {
  const { server: running, client: sdk } = s3();
  for (const key of keys) await sdk.send(new PutObjectCommand({ Bucket: running.bucket, Key: key, Body: key.endsWith('/') ? '' : key }));
}

async function keysUnder(prefix: string): Promise<string[]> {
  const { server: running, client: sdk } = s3();
  const response = await sdk.send(new ListObjectsV2Command({ Bucket: running.bucket, Prefix: prefix }));
  return (response.Contents ?? []).flatMap((object) => (object.Key === undefined ? [] : [object.Key]));
}

function backendAt(prefix: string, listBatch?: number): S3Backend {
  const { server: running, client: sdk } = s3();
  return new S3Backend({ bucket: running.bucket, prefix, client: sdk, ...(listBatch === undefined ? {} : { listBatch }) });
}

async function listAll(backend: S3Backend, path: string, recursive: boolean, limit: number): Promise<string[]> {
  const paths: string[] = [];
  let cursor: string | undefined;
  do {
    const page = (await expectData(backend, { operation: 'list', path, options: { recursive, limit, ...(cursor === undefined ? {} : { cursor }) } })) as ListPage;
    paths.push(...page.entries.map((entry) => `${entry.path} ${entry.type}`));
    cursor = page.cursor;
  } while (cursor !== undefined);
  return paths;
}

describe('S3 keys written by other tools', () => {
  it('a key is read as the entries a listing shows: a marker is a directory, an unaddressable name hides itself and what is below it', () => {
    expect(entriesOfKey('file.txt')).toEqual({ names: ['file.txt'], endsInFile: true });
    expect(entriesOfKey('a/b/file.txt')).toEqual({ names: ['a', 'b', 'file.txt'], endsInFile: true });
    expect(entriesOfKey('a/b/')).toEqual({ names: ['a', 'b'], endsInFile: false });
    expect(entriesOfKey('')).toEqual({ names: [], endsInFile: false });
    expect(entriesOfKey('a/.taskforge-meta-x')).toEqual({ names: ['a'], endsInFile: false });
    expect(entriesOfKey('a/.taskforge-dir/b/c')).toEqual({ names: ['a'], endsInFile: false });
    expect(entriesOfKey('a//b')).toEqual({ names: ['a'], endsInFile: false });
    expect(entriesOfKey('a/../b')).toEqual({ names: ['a'], endsInFile: false });
    expect(entriesOfKey('/')).toEqual({ names: [], endsInFile: false });
  });

  it('a name is listable exactly when a storage path may hold it', () => {
    for (const name of ['a', 'file.txt', 'naïve ✓', '.hidden', '.taskforge', 'x.taskforge-y', '.taskforge-', '.taskforge-meta-x', '.', '..', '', 'nul\0', 'esc\u001b[2J', 'line\nbreak', 'tab\t', 'del\u007f']) {
      let parses: boolean;
      try {
        parses = parseStoragePath(`/d/${name}`) === `/d/${name}`;
      } catch {
        parses = false;
      }
      expect(isStorageName(name), JSON.stringify(name)).toBe(parses);
    }
  });

  it("the folder marker of the backend's own prefix is its root, not an entry named ''", async () => {
    await putKeys(['own-marker/', 'own-marker/file.txt']);
    const backend = backendAt('own-marker');
    expect(await listAll(backend, '/', false, 1000)).toEqual(['/file.txt file']);
    expect(await listAll(backend, '/', true, 1000)).toEqual(['/file.txt file']);
  });

  it('called directly, the backend treats a marker as an empty directory and a recursive delete removes the marker', async () => {
    await putKeys(['direct/dir/', 'direct/other.txt']);
    const backend = backendAt('direct');
    const signal = new AbortController().signal;
    expect(await backend.list('/dir', { signal, recursive: false, limit: 100 })).toEqual({ entries: [] });
    expect(await backend.list('/dir', { signal, recursive: true, limit: 100 })).toEqual({ entries: [] });
    expect((await backend.list('/', { signal, recursive: false, limit: 100 })).entries.map((entry) => [entry.name, entry.type])).toEqual([
      ['dir', 'directory'],
      ['other.txt', 'file'],
    ]);
    await expect(backend.read('/dir', { signal })).rejects.toMatchObject({ code: 'IS_A_DIRECTORY' });
    await expect(backend.stat('/dir', { signal })).rejects.toMatchObject({ code: 'IS_A_DIRECTORY' });
    await expect(backend.delete('/dir', { signal, recursive: false })).rejects.toMatchObject({ code: 'IS_A_DIRECTORY' });
    expect(await keysUnder('direct/dir/')).toEqual(['direct/dir/']);
    expect(await backend.delete('/dir', { signal, recursive: true })).toEqual({ deleted: true });
    expect(await keysUnder('direct/')).toEqual(['direct/other.txt']);
  });

  it('pages over markers and hidden keys cover every entry once, in path order, in both listing modes', async () => {
    // s3rver walks its directories segment by segment, which differs from S3's byte order when
    // a name holds a character below '/' (d-x, d.txt) and then breaks continuation tokens; the
    // byte-order case is read in one S3 page, the many-S3-pages case uses names where both agree.
    await putKeys(['pages-one/d/', 'pages-one/d/x', 'pages-one/d/.taskforge-h', 'pages-one/d-x', 'pages-one/d.txt', 'pages-one/.taskforge-top', 'pages-one/e/']);
    await putKeys(['pages-many/a/', 'pages-many/a/.taskforge-h', 'pages-many/a/b/', 'pages-many/a/b/f', 'pages-many/c', 'pages-many/.taskforge-top', 'pages-many/e/', 'pages-many/e/.taskforge-only']);
    const cases = [
      { backend: backendAt('pages-one'), recursive: false, expected: ['/d directory', '/d-x file', '/d.txt file', '/e directory'] },
      { backend: backendAt('pages-many', 2), recursive: true, expected: ['/a directory', '/a/b directory', '/a/b/f file', '/c file', '/e directory'] },
      { backend: backendAt('pages-many', 2), recursive: false, expected: ['/a directory', '/c file', '/e directory'] },
    ];
    for (const { backend, recursive, expected } of cases) {
      for (const limit of [1, 2, 3, 1000]) expect(await listAll(backend, '/', recursive, limit), `${backend.name} recursive ${String(recursive)} limit ${String(limit)}`).toEqual(expected);
    }
  });
});
