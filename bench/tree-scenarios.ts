// Whole trees: `taskforge write --recursive --compress --encrypt` and `read --recursive`
// (the real bin) against `restic backup --compression auto` and `restic restore` of the same
// directory tree. Phases: the first store into a fresh store, a second store over the
// unchanged tree, and a restore into a fresh directory; what a phase needs first (a store
// to restore from) is done before the clock starts.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { syncTree, treeBytes } from './peer-scenarios.js';
import type { Measurement } from './scenarios.js';
import { checkSameTree } from './tree-check.js';

/** What to run. */
export interface TreeSpec {
  /** The local tree (a documentation tree nobody here wrote: /usr/share/doc). */
  readonly source: string;
  readonly phase: 'store' | 'again' | 'restore';
}

const BIN = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url));
const KEY = Buffer.alloc(32, 5).toString('base64');

/** taskforge's side: the CLI, as a user runs it. */
export async function treeTaskforge(directory: string, spec: TreeSpec): Promise<Measurement> {
  const env = { ...process.env, TASKFORGE_ENCRYPTION_KEY: KEY };
  const root = join(directory, 'store');
  const store = (): void => {
    execFileSync(process.execPath, [BIN, 'write', '/tree', '--file', spec.source, '--recursive', '--compress', '--encrypt', '--root', root], { env, stdio: 'ignore' });
  };
  if (spec.phase !== 'store') store();
  const started = performance.now();
  if (spec.phase === 'restore') execFileSync(process.execPath, [BIN, 'read', '/tree', '-o', join(directory, 'restored'), '--recursive', '--root', root], { env, stdio: 'ignore' });
  else store();
  const elapsedMs = performance.now() - started;
  // Off the clock: every byte, mode, mtime and link of the restore checked against the source (throws on the first difference).
  if (spec.phase === 'restore') await checkSameTree(spec.source, join(directory, 'restored'));
  return measured(spec, elapsedMs);
}

/** restic's side; its repository is fsynced after a backup, as taskforge makes every object durable. */
export async function treeRestic(directory: string, spec: TreeSpec): Promise<Measurement> {
  const repository = join(directory, 'restic-repo');
  const env = { ...process.env, RESTIC_PASSWORD: 'taskforge-bench', RESTIC_CACHE_DIR: join(directory, 'restic-cache') };
  execFileSync('restic', ['init', '--repo', repository], { env, stdio: 'ignore' });
  const backup = async (): Promise<void> => {
    execFileSync('restic', ['backup', '--repo', repository, '--compression', 'auto', spec.source], { env, stdio: 'ignore' });
    await syncTree(repository);
  };
  if (spec.phase !== 'store') await backup();
  const started = performance.now();
  if (spec.phase === 'restore') execFileSync('restic', ['restore', 'latest', '--repo', repository, '--target', join(directory, 'restored')], { env, stdio: 'ignore' });
  else await backup();
  return measured(spec, performance.now() - started);
}

async function measured(spec: TreeSpec, elapsedMs: number): Promise<Measurement> {
  const bytes = await treeBytes(spec.source);
  return { perSecond: bytes / 1e6 / (elapsedMs / 1000), unit: 'MB/s', elapsedMs };
}

export const treeScenarios = { treeTaskforge, treeRestic } as const;
