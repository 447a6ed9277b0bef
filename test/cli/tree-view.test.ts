import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { CliStreams } from '../../src/cli/cli-context.js';
import { TreeView } from '../../src/cli/tree-view.js';

function captured(tty: boolean): { streams: CliStreams; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const stdout = new PassThrough();
  const stderr = Object.assign(new PassThrough(), { isTTY: tty, columns: 80 });
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  return { streams: { stdout, stderr, stdin: new PassThrough(), env: {} }, out: () => out, err: () => err };
}

describe('the progress and summary of write/read --recursive', () => {
  it('on a terminal: one redrawn line of files and bytes done of the total, the rate and the time left; cleared before the summary', () => {
    const { streams, out, err } = captured(true);
    const view = new TreeView(streams, false);
    view.progress({ files: 10, bytes: 10 * 1024 * 1024, filesDone: 3, bytesDone: 2 * 1024 * 1024, elapsedMs: 1000 });
    const line = '3/10 files, 2.0 MiB of 10.0 MiB, 2.0 MiB/s, 4 s left';
    expect(err()).toBe(line);
    view.file({ path: 'odd', storagePath: '/t/odd', action: 'skipped', reason: 'a FIFO' });
    expect(err()).toBe(`${line}\r${' '.repeat(line.length)}\rtaskforge: odd: skipped: a FIFO\n`);
    view.summary({ files: 10, stored: 9, unchanged: 0, links: 0, skipped: 1, failed: 0, deleted: 0, bytesRead: 10 * 1024 * 1024, bytesStored: 5 * 1024 * 1024, elapsedMs: 2000, interrupted: false, uploadsLeft: [] }, 'stored');
    expect(out()).toBe('stored 9 of 10 files (10.0 MiB read, 5.0 MiB stored) in 2.0 s, 5.0 MiB/s, 0 unchanged, 0 links, 1 skipped, 0 failed\n');
  });

  it('not on a terminal: no progress line; with --json, a line per entry and a summary line, nothing on stderr', () => {
    const plain = captured(false);
    new TreeView(plain.streams, false).progress({ files: 1, bytes: 1, filesDone: 1, bytesDone: 1, elapsedMs: 1 });
    expect(plain.err()).toBe('');
    const json = captured(true);
    const view = new TreeView(json.streams, true);
    view.progress({ files: 1, bytes: 1, filesDone: 1, bytesDone: 1, elapsedMs: 1 });
    view.file({ path: 'a', storagePath: '/t/a', action: 'stored', bytes: 1, storedBytes: 1 });
    view.summary({ files: 1, stored: 1, unchanged: 0, links: 0, skipped: 0, failed: 0, deleted: 0, bytesRead: 1, bytesStored: 1, elapsedMs: 1, interrupted: false, uploadsLeft: [] }, 'stored');
    expect(json.err()).toBe('');
    expect(json.out().trim().split('\n').map((line) => JSON.parse(line) as unknown)).toEqual([{ path: 'a', storagePath: '/t/a', action: 'stored', bytes: 1, storedBytes: 1 }, { summary: expect.objectContaining({ stored: 1 }) as unknown }]);
  });
});
