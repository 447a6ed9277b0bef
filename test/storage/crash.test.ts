import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ListPage } from '../../src/storage/backend.js';
import { startScriptFile } from '../helpers/child.js';
import { expectData } from '../helpers/storage.js';
import { useFileSystemFixture } from '../helpers/fs-fixture.js';
import { temporaryName } from '../../src/storage/backends/temporary-file.js';
import { FileSystemBackend } from '../../src/storage/backends/filesystem.js';

const ROUNDS = 20;
const OLD_SIZE = 4 * 1024 * 1024;
const NEW_SIZE = 32 * 1024 * 1024;

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Starts the slow overwrite in a child and kills it with SIGKILL once bytes flow, after a random pause. */
async function killMidWrite(root: string, path: string): Promise<void> {
  const child = startScriptFile('test/fixtures/slow-overwrite.ts', [root, path, String(NEW_SIZE)]);
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => {
    resolve(signal);
  }));
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (data: Buffer) => {
      output += data.toString();
      if (output.includes('writing')) resolve();
    });
    child.once('exit', () => {
      reject(new Error(`the writer exited before writing: ${output}`));
    });
  });
  await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 40)));
  child.kill('SIGKILL');
  expect(await exited).toBe('SIGKILL');
  expect(output).not.toContain('completed');
}

describe('crash safety', () => {
  const fixture = useFileSystemFixture('suite');

  it(`a writer killed with SIGKILL mid-overwrite leaves the old object intact, ${ROUNDS} times in a row`, async () => {
    for (let round = 1; round <= ROUNDS; round += 1) {
      const old = Buffer.alloc(OLD_SIZE, round);
      await expectData(fixture.backend, { operation: 'write', path: '/crash/object.bin', data: old });
      await killMidWrite(fixture.root, '/crash/object.bin');
      const back = (await expectData(fixture.backend, { operation: 'read', path: '/crash/object.bin' })) as Buffer;
      expect(sha256(back), `round ${round}`).toBe(sha256(old));
      const page = (await expectData(fixture.backend, { operation: 'list', path: '/crash' })) as ListPage;
      expect(page.entries.map((entry) => [entry.name, entry.size])).toEqual([['object.bin', OLD_SIZE]]);
    }
    // The killed writers' temporary files are on disk, hidden from every listing.
    const leftovers = (await readdir(join(fixture.root, 'crash'))).filter((name) => name.startsWith('.taskforge-tmp-'));
    expect(leftovers.length).toBeGreaterThan(0);
    // Each names its writer, a process of this machine that no longer runs: the default sweep removes them at once.
    const report = await fixture.backend.sweepLeftovers();
    expect(report).toMatchObject({ temporaryFiles: leftovers.length, orphanedMetadata: 0, kept: 0 });
    expect(report.bytesFreed).toBeGreaterThan(0);
    expect(await readdir(join(fixture.root, 'crash'))).toEqual(['object.bin']);
  });

  it('a sweep removes metadata whose object another program deleted, and keeps the rest', async () => {
    const sidecars = new FileSystemBackend({ root: fixture.root, metadataIn: 'sidecars' });
    await expectData(sidecars, { operation: 'write', path: '/sweep/kept.json', data: { kept: true } });
    await expectData(sidecars, { operation: 'write', path: '/sweep/gone.json', data: { gone: true } });
    await rm(join(fixture.root, 'sweep', 'gone.json'));
    expect(await fixture.backend.sweepLeftovers({ olderThanMs: 0 })).toMatchObject({ temporaryFiles: 0, orphanedMetadata: 1, kept: 0 });
    expect((await readdir(join(fixture.root, 'sweep'))).sort()).toEqual(['.taskforge-meta-kept.json', 'kept.json']);
    expect(await expectData(fixture.backend, { operation: 'read', path: '/sweep/kept.json' })).toEqual({ kept: true });
  });

  it('a sweep never removes the temporary file of a writer that still runs, and judges files it cannot trace by their age', async () => {
    const directory = join(fixture.root, 'live');
    await mkdir(directory, { recursive: true });
    // Named as this process names its writes: its writer (this test) runs.
    const live = join(directory, temporaryName());
    // No writer named (another machine's, or an older taskforge's): only its age can tell.
    const foreign = join(directory, '.taskforge-tmp-0123456789abcdef');
    await writeFile(live, 'still being written');
    await writeFile(foreign, 'x'.repeat(10));
    expect(await fixture.backend.sweepLeftovers()).toMatchObject({ temporaryFiles: 0, kept: 2 });
    expect(await fixture.backend.sweepLeftovers({ olderThanMs: 0 })).toEqual({ temporaryFiles: 1, orphanedMetadata: 0, bytesFreed: 10, kept: 1 });
    expect(await readdir(directory)).toEqual([basename(live)]);
  });

  it.runIf(process.platform === 'linux')('a killed writer not yet reaped by its parent (a zombie) is gone: its temporary file goes at once', async () => {
    // sh starts a writer in the background, then becomes a process that never waits for it: killed, the writer stays a zombie.
    const parent = spawn('sh', ['-c', 'sleep 60 & echo $!; exec sleep 60'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const writerPid = Number((await once(parent.stdout, 'data'))[0]);
      process.kill(writerPid, 'SIGKILL');
      await expect.poll(() => readFileSync(`/proc/${String(writerPid)}/stat`, 'utf8').split(') ')[1]?.[0]).toBe('Z');
      const directory = join(fixture.root, 'zombie');
      await mkdir(directory, { recursive: true });
      const name = temporaryName().replace(`-${String(process.pid)}-`, `-${String(writerPid)}-`);
      await writeFile(join(directory, name), 'cut off');
      // A root of its own: the other tests' leftovers are not this sweep's.
      expect(await new FileSystemBackend({ root: directory }).sweepLeftovers()).toMatchObject({ temporaryFiles: 1, kept: 0 });
      expect(await readdir(directory)).toEqual([]);
    } finally {
      parent.kill('SIGKILL');
    }
  });
});
