// The read paths of issue 17, each against what a user would call instead:
// a 4 KiB object read without cache against fs.promises.readFile of the same
// file; a `cache: true` hit (its version checked with the backend) against
// fs.promises.stat of the file; every page of a 20,000-file directory at
// `limit: 100` against one bare readdir + stat + sort of it.
import { mkdirSync, writeFileSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FileSystemBackend } from '../src/storage/backends/filesystem.js';
import { Keyring } from '../src/storage/codec/keyring.js';
import { ReadCache } from '../src/storage/read-cache.js';
import { StorageTask } from '../src/tasks/storage-task.js';
import { mixedSource } from './mixed-data.js';
import type { Measurement } from './scenarios.js';

/** What to run. */
export interface ReadSpec {
  /** Reads (or, for listings, files in the directory). */
  readonly count: number;
}

/** A large read: which cache it goes through. */
export interface LargeReadSpec extends ReadSpec {
  readonly cache: 'none' | 'default' | 'large';
}

const SMALL = Buffer.alloc(4096, 0x61);
/** Objects the reads go round, so that one file's inode is not all that is measured. */
const OBJECTS = 100;

/** Writes OBJECTS 4 KiB objects through the backend: the same files both sides read. */
async function smallObjects(directory: string): Promise<FileSystemBackend> {
  const backend = new FileSystemBackend({ root: join(directory, 'root') });
  for (let index = 0; index < OBJECTS; index += 1) {
    await new StorageTask({ type: 'storage', metadata: { operation: 'write', path: `/r/${String(index)}.bin`, data: SMALL } }, { backend }).execute();
  }
  return backend;
}

async function timed(run: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

/** `count` 4 KiB reads through StorageTask.execute(), no cache, one after another, each a new task. */
export async function taskSmallReads(directory: string, spec: ReadSpec): Promise<Measurement> {
  const backend = await smallObjects(directory);
  const elapsedMs = await timed(async () => {
    for (let index = 0; index < spec.count; index += 1) {
      const result = await new StorageTask({ type: 'storage', metadata: { operation: 'read', path: `/r/${String(index % OBJECTS)}.bin` } }, { backend }).execute();
      if (!result.success || (result.data as Buffer).byteLength !== SMALL.byteLength) throw new Error('a read failed');
    }
  });
  return { perSecond: (spec.count / elapsedMs) * 1000, unit: 'ops/s', elapsedMs };
}

/** The same files read with fs.promises.readFile. */
export async function readFileSmallReads(directory: string, spec: ReadSpec): Promise<Measurement> {
  await smallObjects(directory);
  const folder = join(directory, 'root', 'r');
  const elapsedMs = await timed(async () => {
    for (let index = 0; index < spec.count; index += 1) {
      const bytes = await readFile(join(folder, `${String(index % OBJECTS)}.bin`));
      if (bytes.byteLength !== SMALL.byteLength) throw new Error('a read failed');
    }
  });
  return { perSecond: (spec.count / elapsedMs) * 1000, unit: 'ops/s', elapsedMs };
}

/** `count` `cache: true` reads that hit (each checks the object's version with the backend). */
export async function taskCacheHits(directory: string, spec: ReadSpec): Promise<Measurement> {
  const backend = await smallObjects(directory);
  const cache = new ReadCache();
  const config = (index: number) => ({ type: 'storage', metadata: { operation: 'read', path: `/r/${String(index % OBJECTS)}.bin`, options: { cache: true } } }) as const;
  for (let index = 0; index < OBJECTS; index += 1) await new StorageTask(config(index), { backend, cache }).execute();
  const elapsedMs = await timed(async () => {
    for (let index = 0; index < spec.count; index += 1) {
      const result = await new StorageTask(config(index), { backend, cache }).execute();
      if (result.details?.['cache'] !== 'hit') throw new Error('expected a cache hit');
    }
  });
  return { perSecond: (spec.count / elapsedMs) * 1000, unit: 'ops/s', elapsedMs };
}

/** fs.promises.stat of the same files: what a version check cannot be faster than. */
export async function statSmallFiles(directory: string, spec: ReadSpec): Promise<Measurement> {
  await smallObjects(directory);
  const folder = join(directory, 'root', 'r');
  const elapsedMs = await timed(async () => {
    for (let index = 0; index < spec.count; index += 1) await stat(join(folder, `${String(index % OBJECTS)}.bin`));
  });
  return { perSecond: (spec.count / elapsedMs) * 1000, unit: 'ops/s', elapsedMs };
}

/** A directory of `count` small files, made by hand (the listing is measured, not the writes). */
function flatDirectory(directory: string, count: number): string {
  const folder = join(directory, 'root', 'flat');
  mkdirSync(folder, { recursive: true });
  for (let index = 0; index < count; index += 1) writeFileSync(join(folder, `f${String(index).padStart(6, '0')}.txt`), 'x');
  return folder;
}

/** Every page of the directory at `limit: 100`, through StorageTask list tasks, following cursors. */
export async function taskListPages(directory: string, spec: ReadSpec): Promise<Measurement> {
  flatDirectory(directory, spec.count);
  const backend = new FileSystemBackend({ root: join(directory, 'root') });
  let seen = 0;
  const elapsedMs = await timed(async () => {
    let cursor: string | undefined;
    do {
      const result = await new StorageTask({ type: 'storage', metadata: { operation: 'list', path: '/flat', options: { limit: 100, ...(cursor === undefined ? {} : { cursor }) } } }, { backend }).execute();
      if (!result.success) throw new Error(`a list failed: ${result.error.message}`);
      const page = result.data as { entries: unknown[]; cursor?: string };
      seen += page.entries.length;
      cursor = page.cursor;
    } while (cursor !== undefined);
  });
  if (seen !== spec.count) throw new Error(`listed ${String(seen)} of ${String(spec.count)} files`);
  return { perSecond: (spec.count / elapsedMs) * 1000, unit: 'ops/s', elapsedMs };
}

/** One bare readdir, a stat of every entry and a sort by name: the floor of a whole listing. */
export async function bareListing(directory: string, spec: ReadSpec): Promise<Measurement> {
  const folder = flatDirectory(directory, spec.count);
  const elapsedMs = await timed(async () => {
    const names = await readdir(folder);
    names.sort();
    const stats = await Promise.all(names.map((name) => stat(join(folder, name))));
    if (stats.length !== spec.count) throw new Error('the listing lost files');
  });
  return { perSecond: (spec.count / elapsedMs) * 1000, unit: 'ops/s', elapsedMs };
}

/** A 24 MiB object, compressed and encrypted, read `count` times as a Buffer: without cache, with the default cache (which will not hold it), and with a cache large enough to (hits). */
export async function taskLargeReads(directory: string, spec: LargeReadSpec): Promise<Measurement> {
  const backend = new FileSystemBackend({ root: join(directory, 'root') });
  const keyring = Keyring.fromKey(Buffer.alloc(32, 9));
  const written = await new StorageTask(
    { type: 'storage', metadata: { operation: 'write', path: '/large.bin', data: mixedSource(LARGE_MIB), options: { compression: true, encryption: true } } },
    { backend, keyring },
  ).execute();
  if (!written.success) throw new Error(`the write failed: ${written.error.message}`);
  const cache = spec.cache === 'large' ? new ReadCache({ maxBytes: 256 * 1024 * 1024, maxEntryBytes: 64 * 1024 * 1024 }) : new ReadCache();
  const options = spec.cache === 'none' ? {} : { cache: true };
  const read = () => new StorageTask({ type: 'storage', metadata: { operation: 'read', path: '/large.bin', options } }, { backend, keyring, cache }).execute();
  // One read first: a hit needs a filled cache, and every side starts warm.
  await read();
  const elapsedMs = await timed(async () => {
    for (let index = 0; index < spec.count; index += 1) {
      const result = await read();
      if (!result.success || (result.data as Buffer).byteLength !== LARGE_MIB * 1024 * 1024) throw new Error('a read failed');
    }
  });
  return { perSecond: (spec.count / elapsedMs) * 1000, unit: 'ops/s', elapsedMs };
}

/** The size of the large object of taskLargeReads. */
const LARGE_MIB = 24;

export const readScenarios = { taskSmallReads, readFileSmallReads, taskCacheHits, statSmallFiles, taskListPages, bareListing, taskLargeReads } as const;
