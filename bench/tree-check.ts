// The check after a benchmark's restore: the restored tree is the source, entry for entry.
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Throws naming the first difference between `source` and `restored`: an
 * entry missing or extra, a kind, a mode, an mtime (to the millisecond: the
 * restore puts times back to about the microsecond), a file's bytes or a
 * link's target. FIFOs, sockets and devices are not restored, so not compared.
 */
export async function checkSameTree(source: string, restored: string): Promise<{ files: number; bytes: number }> {
  const counted = { files: 0, bytes: 0 };
  await compareFolder(source, restored, '', counted);
  return counted;
}

async function compareFolder(source: string, restored: string, path: string, counted: { files: number; bytes: number }): Promise<void> {
  const wanted = await restorable(join(source, path));
  const found = (await readdir(join(restored, path))).sort();
  if (wanted.join('\0') !== found.join('\0')) throw new Error(`restored tree differs in '${path || '.'}': ${difference(wanted, found)}`);
  for (const name of wanted) {
    const entry = path === '' ? name : `${path}/${name}`;
    const [a, b] = await Promise.all([lstat(join(source, entry)), lstat(join(restored, entry))]);
    const kind = (stats: typeof a): string => (stats.isSymbolicLink() ? 'link' : stats.isDirectory() ? 'folder' : 'file');
    if (kind(a) !== kind(b)) throw new Error(`'${entry}' is a ${kind(a)} in the source and a ${kind(b)} restored`);
    if (a.isSymbolicLink()) {
      if ((await readlink(join(source, entry))) !== (await readlink(join(restored, entry)))) throw new Error(`link '${entry}' has another target restored`);
      continue;
    }
    if ((a.mode & 0o7777) !== (b.mode & 0o7777)) throw new Error(`'${entry}' has mode ${(b.mode & 0o7777).toString(8)} restored, ${(a.mode & 0o7777).toString(8)} in the source`);
    if (a.isDirectory()) await compareFolder(source, restored, entry, counted);
    else {
      const [x, y] = await Promise.all([readFile(join(source, entry)), readFile(join(restored, entry))]);
      if (!x.equals(y)) throw new Error(`file '${entry}' has other bytes restored`);
      counted.files += 1;
      counted.bytes += x.byteLength;
    }
    // A folder's time after its own entries were compared (reading it does not change it, but order keeps this honest).
    if (Math.abs(a.mtimeMs - b.mtimeMs) >= 1) throw new Error(`'${entry}' has mtime ${new Date(b.mtimeMs).toISOString()} restored, ${new Date(a.mtimeMs).toISOString()} in the source`);
  }
}

/** The names in a source folder that a restore puts back: files, folders and links. */
async function restorable(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true });
  return entries.filter((entry) => entry.isFile() || entry.isDirectory() || entry.isSymbolicLink()).map((entry) => entry.name).sort();
}

function difference(wanted: readonly string[], found: readonly string[]): string {
  const missing = wanted.filter((name) => !found.includes(name));
  const extra = found.filter((name) => !wanted.includes(name));
  return [missing.length > 0 ? `missing ${missing.slice(0, 3).join(', ')}` : '', extra.length > 0 ? `extra ${extra.slice(0, 3).join(', ')}` : ''].filter(Boolean).join('; ');
}
