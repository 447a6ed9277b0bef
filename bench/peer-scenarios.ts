// taskforge against the tools a user might pick instead for encrypted
// storage of a file: restic (compressed, encrypted backup) and rclone's
// crypt remote (encrypted copy). Both read the same 1 GiB mixed file.
import { execFileSync, spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { FileSystemBackend } from '../src/storage/backends/filesystem.js';
import { Keyring } from '../src/storage/codec/keyring.js';
import { StorageTask } from '../src/tasks/storage-task.js';
import { mixedSource } from './mixed-data.js';
import type { Measurement } from './scenarios.js';

/** One contender's settings: the data size, and for StorageTask whether to compress. */
export interface PeerSpec {
  readonly sizeMiB: number;
  readonly compress: boolean;
  /**
   * How StorageTask is given the file: `file` names it (`metadata.file`, read
   * 1 MiB at a time, as the peers read it), `stream` hands it a default
   * `fs.createReadStream` (made for 64 KiB reads; StorageTask asks it for 1 MiB at a time). Default `stream`.
   */
  readonly source?: 'file' | 'stream';
}

const keyring = new Keyring({ keys: { bench: Buffer.alloc(32, 9) } });

/** True when `tool` runs here; the benchmark prints a reason and skips it otherwise. */
export function hasTool(tool: string): boolean {
  return spawnSync(tool, ['version'], { stdio: 'ignore' }).status === 0;
}

/** Writes the mixed data to `directory/mixed.bin` (untimed), for every contender to read. */
async function mixedFile(directory: string, sizeMiB: number): Promise<string> {
  await mkdir(directory, { recursive: true });
  const file = join(directory, 'mixed.bin');
  await pipeline(mixedSource(sizeMiB, true), createWriteStream(file));
  // Written back to disk before the clock starts, so no contender pays for it.
  const handle = await open(file, 'r');
  await handle.sync();
  await handle.close();
  return file;
}

/** fsyncs every file below `directory`: the same durability StorageTask gives its own writes. */
export async function syncTree(directory: string): Promise<void> {
  for (const entry of await readdir(directory, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const handle = await open(join(entry.parentPath, entry.name), 'r');
    await handle.sync();
    await handle.close();
  }
}

/** The bytes of every file below `directory`. */
export async function treeBytes(directory: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(directory, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}

function measurement(sizeMiB: number, elapsedMs: number, storedBytes: number): Measurement {
  return { perSecond: (sizeMiB * 1024 * 1024) / 1e6 / (elapsedMs / 1000), unit: 'MB/s', elapsedMs, ratio: storedBytes / (sizeMiB * 1024 * 1024) };
}

/** StorageTask writing the file, encrypted, with the default compression or none. */
export async function storageTaskFromFile(directory: string, spec: PeerSpec): Promise<Measurement> {
  const file = await mixedFile(directory, spec.sizeMiB);
  const backend = new FileSystemBackend({ root: join(directory, 'store') });
  const started = performance.now();
  const source = spec.source === 'file' ? { file } : { data: createReadStream(file) };
  const result = await new StorageTask(
    { type: 'storage', metadata: { operation: 'write', path: '/mixed.bin', ...source, options: { encryption: true, compression: spec.compress } } },
    { backend, keyring },
  ).execute();
  const elapsedMs = performance.now() - started;
  if (!result.success) throw new Error(`write failed: ${result.error.message}`);
  return measurement(spec.sizeMiB, elapsedMs, await treeBytes(join(directory, 'store')));
}

/** `restic backup --compression auto` of the file into a fresh repository. */
export async function resticBackup(directory: string, spec: PeerSpec): Promise<Measurement> {
  const file = await mixedFile(directory, spec.sizeMiB);
  const repository = join(directory, 'restic-repo');
  const env = { ...process.env, RESTIC_PASSWORD: 'taskforge-bench', RESTIC_CACHE_DIR: join(directory, 'restic-cache') };
  execFileSync('restic', ['init', '--repo', repository], { env, stdio: 'ignore' });
  const started = performance.now();
  execFileSync('restic', ['backup', '--repo', repository, '--compression', 'auto', file], { env, stdio: 'ignore' });
  await syncTree(repository);
  const elapsedMs = performance.now() - started;
  return measurement(spec.sizeMiB, elapsedMs, await treeBytes(repository));
}

/** `rclone copy` of the file to a crypt remote over a local directory. */
export async function rcloneCryptCopy(directory: string, spec: PeerSpec): Promise<Measurement> {
  const file = await mixedFile(directory, spec.sizeMiB);
  const target = join(directory, 'rclone-out');
  await mkdir(target, { recursive: true });
  const password = execFileSync('rclone', ['obscure', 'taskforge-bench'], { encoding: 'utf8' }).trim();
  const env = {
    ...process.env,
    RCLONE_CONFIG_TFCRYPT_TYPE: 'crypt',
    RCLONE_CONFIG_TFCRYPT_REMOTE: target,
    RCLONE_CONFIG_TFCRYPT_PASSWORD: password,
  };
  await writeFile(join(directory, 'rclone.conf'), '');
  const started = performance.now();
  execFileSync('rclone', ['--config', join(directory, 'rclone.conf'), 'copy', file, 'tfcrypt:'], { env, stdio: 'ignore' });
  // rclone does not fsync what it wrote; taskforge does before it reports success.
  await syncTree(target);
  const elapsedMs = performance.now() - started;
  return measurement(spec.sizeMiB, elapsedMs, await treeBytes(target));
}
