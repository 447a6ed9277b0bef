import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Orchestrator } from '../../src/orchestrator/orchestrator.js';
import { SqliteQueue } from '../../src/orchestrator/queues/sqlite-queue.js';
import { startScriptFile } from '../helpers/child.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { JournalTask, journalBatch } from '../fixtures/journal-task.js';

const Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;
const TASKS = 30;
const ROUNDS = 10;

let dir = '';
let removeDir: () => Promise<void> = () => Promise.resolve();
beforeAll(async () => {
  ({ path: dir, remove: removeDir } = await makeTempDir('crash-'));
});
afterAll(() => removeDir());

function journalLines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((line) => line.length > 0) : [];
}

/** What the store says each task was doing when the process died. */
function statesAtDeath(dbFile: string): Map<string, string> {
  const db = new Database(dbFile, { readonly: true });
  try {
    const rows = db.prepare('SELECT id, state FROM tasks').all() as { id: string; state: string }[];
    return new Map(rows.map((row) => [row.id, row.state]));
  } finally {
    db.close();
  }
}

describe('the SQLite queue survives SIGKILL mid-run', () => {
  it.each(Array.from({ length: ROUNDS }, (_, round) => round + 1))('round %i: queued tasks run, running ones are retried with the attempt counted, completed ones are not rerun', async (round) => {
    const dbFile = join(dir, `queue-${String(round)}.db`);
    const journalFile = join(dir, `journal-${String(round)}.txt`);
    const child = startScriptFile('test/fixtures/durable-run.ts', [dbFile, journalFile, String(TASKS)]);
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => { resolve(signal); }));
    // Kill once some tasks are done and others are mid-work.
    for (let waited = 0; ; waited += 5) {
      const lines = journalLines(journalFile);
      const done = lines.filter((line) => line.startsWith('done ')).length;
      const started = lines.filter((line) => line.startsWith('start ')).length;
      if (done >= 6 && started > done) break;
      if (waited > 30_000) throw new Error(`the child never got going: ${stderr}`);
      await delay(5);
    }
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const before = statesAtDeath(dbFile);
    const killedAt = journalLines(journalFile).length;
    const completedBefore = [...before].filter(([, state]) => state === 'completed').map(([id]) => id);
    const runningBefore = [...before].filter(([, state]) => state === 'running').map(([id]) => id);
    expect(completedBefore.length).toBeGreaterThan(0);
    expect(runningBefore.length).toBeGreaterThan(0);
    expect(before.size).toBe(TASKS);

    const resumed = new Orchestrator({ concurrency: 3, queue: new SqliteQueue(dbFile), taskTypes: { journal: JournalTask }, context: { journalFile } });
    await resumed.onIdle();
    const lines = journalLines(journalFile);
    const after = lines.slice(killedAt);
    const startsAfter = (id: string): number => after.filter((line) => line.startsWith(`start ${id} `)).length;
    for (const config of journalBatch(TASKS)) {
      const id = config.id ?? '';
      const view = await resumed.get(id);
      expect(view?.status, `task ${id}`).toBe('completed');
      if (completedBefore.includes(id)) {
        expect(startsAfter(id), `completed task ${id} ran again`).toBe(0);
        expect(view?.attempts).toBe(1);
      } else if (runningBefore.includes(id)) {
        expect(startsAfter(id), `interrupted task ${id}`).toBe(1);
        expect(view?.attempts, `interrupted task ${id} counts its cut-off attempt`).toBe(2);
      } else {
        expect(startsAfter(id), `queued task ${id}`).toBe(1);
        expect(view?.attempts).toBe(1);
      }
      for (const dependency of config.dependsOn ?? []) {
        const lastStart = lines.map((line) => line.startsWith(`start ${id} `)).lastIndexOf(true);
        const dependencyDone = lines.findLastIndex((line) => line.startsWith(`done ${dependency} `));
        expect(dependencyDone, `${dependency} never finished`).toBeGreaterThanOrEqual(0);
        expect(dependencyDone, `${id} ran before its dependency ${dependency} was done`).toBeLessThan(lastStart === -1 ? Number.POSITIVE_INFINITY : lastStart);
      }
    }
    await resumed.shutdown();
  });
});
