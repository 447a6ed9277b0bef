import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { walkTree, type LocalEntry } from '../../src/orchestrator/trees/tree-walk.js';
import { useFileSystemFixture } from '../helpers/fs-fixture.js';

async function collect(root: string): Promise<LocalEntry[]> {
  const entries: LocalEntry[] = [];
  for await (const entry of walkTree(root)) entries.push(entry);
  return entries;
}

describe('the walk of a local tree', () => {
  const fixture = useFileSystemFixture();

  it('depth first, names in code-unit order, each directory before what it holds, across directories larger than one batch of stats', async () => {
    const tree = join(fixture.dir, 'tree');
    await mkdir(tree);
    const expected: string[] = [];
    // 150 names in the top directory (more than two batches of 64), every tenth a directory holding two files.
    const names = Array.from({ length: 150 }, (_, index) => `n${String(index).padStart(3, '0')}`);
    for (const [index, name] of names.entries()) {
      expected.push(name);
      if (index % 10 === 0) {
        await mkdir(join(tree, name));
        for (const inner of ['a', 'b']) {
          await writeFile(join(tree, name, inner), inner);
          expected.push(`${name}/${inner}`);
        }
      } else if (index % 10 === 5) {
        await symlink('n000/a', join(tree, name));
      } else {
        await writeFile(join(tree, name), name);
      }
    }
    const entries = await collect(tree);
    expect(entries.map((entry) => entry.path)).toEqual(expected);
    expect(entries.filter((entry) => entry.kind === 'directory')).toHaveLength(15);
    expect(entries.filter((entry) => entry.kind === 'symlink')).toHaveLength(15);
    expect(entries.find((entry) => entry.path === 'n001')).toMatchObject({ kind: 'file', size: 4 });
    expect(entries.find((entry) => entry.path === 'n005')).toMatchObject({ kind: 'symlink', target: 'n000/a' });
  });
});
