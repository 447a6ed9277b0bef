import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { getAttribute, setAttribute, type getAttributeSync, type setAttributeSync } from 'fs-xattr';
import { describe, expect, it } from 'vitest';
import { MetadataAttributes, METADATA_ATTRIBUTE } from '../../src/storage/backends/filesystem-xattr.js';
import { useFileSystemFixture } from '../helpers/fs-fixture.js';

/** fs-xattr as a file system without user attributes answers it (tmpfs before Linux 6.6, some network mounts). */
function noAttributesHere(calls: string[]): () => Promise<{ getAttribute: typeof getAttribute; getAttributeSync: typeof getAttributeSync; setAttributeSync: typeof setAttributeSync }> {
  const unsupported = (): Error => Object.assign(new Error('ENOTSUP: operation not supported'), { code: 'ENOTSUP' });
  const get = (): Promise<Buffer> => {
    calls.push('get');
    return Promise.reject(unsupported());
  };
  const getSync = (): Buffer => {
    calls.push('get');
    throw unsupported();
  };
  const set = (): void => {
    calls.push('set');
    throw unsupported();
  };
  return () => Promise.resolve({ getAttribute: get, getAttributeSync: getSync, setAttributeSync: set });
}

/** One chunk of bytes, as a write body. */
async function* bytes(text: string): AsyncIterable<Uint8Array> {
  yield await Promise.resolve(Buffer.from(text));
}

describe('object metadata in an extended attribute', () => {
  const fixture = useFileSystemFixture();

  it('records and reads back the metadata, also through an open descriptor', async () => {
    const attributes = new MetadataAttributes();
    const file = join(fixture.dir, 'f');
    await writeFile(file, 'x');
    expect(await attributes.record(file, { 'content-kind': 'json' })).toBe(true);
    expect(await attributes.read(file)).toEqual({ 'content-kind': 'json' });
    expect(JSON.parse(String(await getAttribute(file, METADATA_ATTRIBUTE)))).toEqual({ 'content-kind': 'json' });
  });

  it('where /proc cannot name the descriptor (not mounted, as in some containers), reads through the path instead', async () => {
    const attributes = new MetadataAttributes();
    const file = join(fixture.dir, 'p');
    await writeFile(file, 'x');
    await attributes.record(file, { 'content-kind': 'text' });
    // A descriptor /proc/self/fd does not know, as every one is where /proc is missing.
    expect(await attributes.read(file, 987_654)).toEqual({ 'content-kind': 'text' });
    expect(await attributes.read(file, 987_654)).toEqual({ 'content-kind': 'text' });
  });

  it('a file with no attribute has no metadata (undefined: look for a sidecar), and a value that is no object is empty', async () => {
    const attributes = new MetadataAttributes();
    const file = join(fixture.dir, 'g');
    await writeFile(file, 'x');
    expect(await attributes.read(file)).toBeUndefined();
    await setAttribute(file, METADATA_ATTRIBUTE, '[1,2]');
    expect(await attributes.read(file)).toEqual({});
    await setAttribute(file, METADATA_ATTRIBUTE, '{"content-kind":"text","n":3}');
    expect(await attributes.read(file)).toEqual({ 'content-kind': 'text' });
  });

  it('where the file system has no attributes, says so once and then stops asking', async () => {
    const calls: string[] = [];
    const attributes = new MetadataAttributes(noAttributesHere(calls));
    expect(await attributes.record(join(fixture.dir, 'h'), { 'content-kind': 'text' })).toBe(false);
    expect(await attributes.record(join(fixture.dir, 'h'), { 'content-kind': 'text' })).toBe(false);
    expect(await attributes.read(join(fixture.dir, 'h'))).toBeUndefined();
    expect(calls).toEqual(['set']);
  });

  it('where the package is not installed, the metadata goes elsewhere', async () => {
    const attributes = new MetadataAttributes(() => Promise.resolve(undefined));
    expect(await attributes.record(join(fixture.dir, 'i'), {})).toBe(false);
    expect(await attributes.read(join(fixture.dir, 'i'))).toBeUndefined();
  });

  it('an error that is not about attributes is thrown, not taken for "unsupported"', async () => {
    const attributes = new MetadataAttributes();
    await expect(attributes.record(join(fixture.dir, 'missing', 'file'), {})).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('metadata too large for an attribute goes to a sidecar, and the object reads back with it', async () => {
    const big = { 'content-kind': 'text', note: 'n'.repeat(70_000) };
    await fixture.backend.write('/big.txt', bytes('hello'), { overwrite: true, metadata: big, signal: new AbortController().signal });
    expect((await readdir(fixture.root)).sort()).toEqual(['.taskforge-meta-big.txt', 'big.txt']);
    const opened = await fixture.backend.read('/big.txt');
    expect(opened.info.metadata).toEqual(big);
    const chunks: Buffer[] = [];
    for await (const chunk of opened.body) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks)).toEqual(Buffer.from('hello'));
    // And a later write that fits goes back to the attribute.
    await fixture.backend.write('/big.txt', bytes('small'), { overwrite: true, metadata: { 'content-kind': 'text' }, signal: new AbortController().signal });
    expect((await fixture.backend.stat('/big.txt'))?.metadata).toEqual({ 'content-kind': 'text' });
  });
});
