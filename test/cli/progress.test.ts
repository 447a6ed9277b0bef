import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { bar, batchLines, LiveBlock } from '../../src/cli/progress.js';
import { summaryTable } from '../../src/cli/summary.js';
import type { TaskResult } from '../../src/tasks/task-result.js';
import { makeTempDir } from '../helpers/temp-dir.js';

function result(id: string, status: 'completed' | 'failed', bytesWritten = 0): TaskResult {
  const base = { id, type: 'storage', attempts: 1, startedAt: '', finishedAt: '', durationMs: 3, details: { bytesWritten } };
  return status === 'completed'
    ? { ...base, status, success: true, data: { path: `/${id}`, size: bytesWritten } }
    : { ...base, status, success: false, error: { code: 'NOT_FOUND', message: 'gone', retryable: false } };
}

describe('the run view', () => {
  it('draws a bar with its percentage', () => {
    expect(bar(0, 10)).toBe('[..........]   0%');
    expect(bar(0.5, 10)).toBe('[#####.....]  50%');
    expect(bar(2, 10)).toBe('[##########] 100%');
  });

  it('shows counts by status, bytes, and a bar for each of the longest transfers', () => {
    const lines = batchLines({ total: 10, pending: 4, running: 2, completed: 3, failed: 1, bytesStored: 3 * 1024 * 1024, bytesReadFromStore: 1024 }, [
      { id: 'big', done: 1024 * 1024, total: 4 * 1024 * 1024 },
      { id: 'small', done: 10, total: 100 },
    ], 2000);
    expect(lines[0]).toBe(`${bar(0.4)}  4/10 tasks  2/s`);
    expect(lines[1]).toBe('pending 4 · running 2 · completed 3 · failed 1 · stored 3.0 MiB · read 1.0 KiB');
    expect(lines[2]).toContain('big');
    expect(lines[2]).toContain('1.0 MiB / 4.0 MiB');
    expect(lines).toHaveLength(3);
  });

  it('says 1 task/s, never 1 tasks/s', () => {
    expect(summaryTable([result('a', 'completed')], 1000)).toContain(' · 1 task/s\n');
    // A long run of big tasks is not '0 tasks/s'.
    expect(summaryTable([result('a', 'completed'), result('b', 'completed')], 50_000)).toContain(' · 0.04 tasks/s\n');
    expect(summaryTable([result('a', 'completed')], 800)).toContain(' · 1.3 tasks/s\n');
  });

  it('redraws its block in place', () => {
    let written = '';
    const out = new Writable({
      write(chunk: Buffer, _encoding, done) {
        written += chunk.toString();
        done();
      },
    });
    const block = new LiveBlock(out);
    block.draw(['one', 'two']);
    block.draw(['three', 'four']);
    block.clear();
    expect(written).toBe('\r\u001b[2Kone\n\u001b[2Ktwo\n\r\u001b[2A\u001b[2Kthree\n\u001b[2Kfour\n\r\u001b[2A\u001b[J');
  });

  it('the summary lists every task of a small batch, only the failed ones of a large one', () => {
    const small = summaryTable([result('a', 'completed', 2048), result('b', 'failed')], 1000);
    // The failed tasks' messages under the table, each named as in it: the code alone rarely says what to fix.
    expect(small.split('\n')).toEqual(['task  type     status     attempts  duration  error', 'a     storage  completed  1         3 ms', 'b     storage  failed     1         3 ms      NOT_FOUND', '', 'b: gone', '', '1 completed · 1 failed · 2.0 KiB stored · 0 B read from the store · 1.00 s · 2 tasks/s', '']);
    const many = Array.from({ length: 60 }, (_, index) => result(`t${String(index)}`, index === 7 ? 'failed' : 'completed'));
    const large = summaryTable(many, 2000).split('\n');
    expect(large).toHaveLength(7);
    expect(large[1]).toMatch(/^t7 /);
    expect(large[3]).toBe('t7: gone');
    // More failures than rows: the cut is said under the table and under the messages, with where to see them all.
    const failing = summaryTable(Array.from({ length: 53 }, (_, index) => result(`f${String(index)}`, 'failed')), 1000).split('\n');
    expect(failing[51]).toBe('... and 3 more failed tasks (--json prints every task)');
    expect(failing.filter((line) => line.endsWith(': gone'))).toHaveLength(50);
    expect(failing).toContain('(the messages of 3 more failed tasks are not shown: --json prints every task)');
  });

  it('on a real terminal, taskforge run redraws live progress on stderr', async () => {
    const { path: dir, remove } = await makeTempDir('tty-');
    try {
      const batch = Array.from({ length: 150 }, (_, index) => ({ type: 'storage', metadata: { operation: 'write', path: `/p/${String(index)}`, data: 'x'.repeat(1000) } }));
      writeFileSync(join(dir, 'batch.json'), JSON.stringify(batch));
      const command = `${process.execPath} ${resolve('dist/src/cli/bin.js')} run batch.json --concurrency 1`;
      // script(1) gives the command a pseudo-terminal, as a person's shell would.
      const ran = spawnSync('script', ['-qefc', command, '/dev/null'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
      expect(ran.status).toBe(0);
      expect(ran.stdout).toMatch(/pending \d+ · running \d+ · completed \d+ · failed 0 · stored [\d.]+ \w+ · read [\d.]+ \w+/);
      expect(ran.stdout).toContain('\u001b[2K');
      expect(ran.stdout).toMatch(/150 completed · 0 failed/);
    } finally {
      await remove();
    }
  });

  it('on a real terminal, write --file shows the total and a percentage', async () => {
    const { path: dir, remove } = await makeTempDir('tty-');
    try {
      writeFileSync(join(dir, 'big'), Buffer.alloc(32 * 1024 * 1024, 7));
      const command = `${process.execPath} ${resolve('dist/src/cli/bin.js')} write /big --file big`;
      const ran = spawnSync('script', ['-qefc', command, '/dev/null'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
      expect(ran.status).toBe(0);
      expect(ran.stdout).toMatch(/writing \/big {2}\[[#.]{24}\] +\d+% {2}[\d.]+ (B|KiB|MiB) \/ 32\.0 MiB/);
    } finally {
      await remove();
    }
  });

  it('on a real terminal, read refuses to print binary data (a NUL byte, as curl judges; exit 2, naming -o) and prints text, however it was written', async () => {
    const { path: dir, remove } = await makeTempDir('tty-');
    try {
      const bin = `${process.execPath} ${resolve('dist/src/cli/bin.js')}`;
      writeFileSync(join(dir, 'image'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x1b, 0x5b, 0x32, 0x4a]));
      writeFileSync(join(dir, 'text-file'), 'a text file, written from a file\n');
      expect(spawnSync('sh', ['-c', `${bin} write /image --file image && ${bin} write /note.txt --data hello && ${bin} write /file.txt --file text-file`], { cwd: dir }).status).toBe(0);
      const binary = spawnSync('script', ['-qefc', `${bin} read /image`, '/dev/null'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
      expect(binary.status).toBe(2);
      expect(binary.stdout).toContain('taskforge: /image holds binary data: give -o FILE, or pipe it to a program, rather than print it on the terminal\r\n');
      expect(binary.stdout).not.toContain('\u001b[2J');
      const text = spawnSync('script', ['-qefc', `${bin} read /note.txt`, '/dev/null'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
      expect(text.status).toBe(0);
      expect(text.stdout).toMatch(/hello$/);
      // Stored from a file (as bytes): text all the same, and printed.
      const fromFile = spawnSync('script', ['-qefc', `${bin} read /file.txt`, '/dev/null'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
      expect(fromFile.status).toBe(0);
      expect(fromFile.stdout).toContain('a text file, written from a file');
    } finally {
      await remove();
    }
  });
});
