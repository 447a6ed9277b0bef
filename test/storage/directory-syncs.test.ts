import { describe, expect, it } from 'vitest';
import { DirectorySyncs } from '../../src/storage/backends/directory-syncs.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/** A sync that ends when the test says, recording when each began. */
class HeldSyncs {
  readonly begun: { directory: string; at: number; end: (error?: Error) => void }[] = [];
  #clock = 0;

  readonly syncOne = (directory: string): Promise<void> =>
    new Promise((resolve, reject) => {
      this.begun.push({ directory, at: (this.#clock += 1), end: (error) => {
          if (error === undefined) resolve();
          else reject(error);
        },
      });
    });

  now(): number {
    return (this.#clock += 1);
  }
}

describe('DirectorySyncs (group commit of directory fsyncs)', () => {
  it('writes that ask while a sync runs share the next one, which begins after they asked; a lone write gets its own', async () => {
    const held = new HeldSyncs();
    const syncs = new DirectorySyncs(held.syncOne);
    const first = syncs.sync('/d');
    expect(held.begun).toHaveLength(1);
    const askedAt = held.now();
    const later = Array.from({ length: 10 }, () => syncs.sync('/d'));
    const other = syncs.sync('/e');
    // Nobody joins the running sync of /d: it may have begun before their renames.
    expect(held.begun.map((sync) => sync.directory)).toEqual(['/d', '/e']);
    held.begun[0]?.end();
    await first;
    await new Promise((resolve) => setImmediate(resolve));
    expect(held.begun.map((sync) => sync.directory)).toEqual(['/d', '/e', '/d']);
    expect(held.begun[2]?.at).toBeGreaterThan(askedAt);
    let settled = 0;
    for (const promise of later) void promise.then(() => (settled += 1));
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(0);
    held.begun[2]?.end();
    await Promise.all(later);
    held.begun[1]?.end();
    await other;
    // Eleven writes to /d cost two syncs.
    expect(held.begun.filter((sync) => sync.directory === '/d')).toHaveLength(2);
    // Idle again: the next write gets a sync of its own at once.
    const alone = syncs.sync('/d');
    expect(held.begun).toHaveLength(4);
    held.begun[3]?.end();
    await alone;
  });

  it("a failed sync fails every write that waited for it, and the next writes get a fresh one", async () => {
    const held = new HeldSyncs();
    const syncs = new DirectorySyncs(held.syncOne);
    const first = syncs.sync('/d');
    const joined = [syncs.sync('/d'), syncs.sync('/d')];
    held.begun[0]?.end(new Error('EIO: the disk failed'));
    await expect(first).rejects.toThrow('EIO');
    await new Promise((resolve) => setImmediate(resolve));
    held.begun[1]?.end(new Error('EIO: again'));
    await expect(Promise.all(joined)).rejects.toThrow('EIO: again');
    const after = syncs.sync('/d');
    await new Promise((resolve) => setImmediate(resolve));
    held.begun.at(-1)?.end();
    await expect(after).resolves.toBeUndefined();
  });

  it('syncs a real directory', async () => {
    const { path, remove } = await makeTempDir('dirsync-');
    try {
      await expect(Promise.all([new DirectorySyncs().sync(path), new DirectorySyncs().sync(path)])).resolves.toEqual([undefined, undefined]);
    } finally {
      await remove();
    }
  });
});
