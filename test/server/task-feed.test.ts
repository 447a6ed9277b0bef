import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { TaskResult } from '../../src/tasks/task-result.js';
import { EndHistory } from '../../src/server/end-history.js';
import { TaskFeed, type EventSource } from '../../src/server/task-feed.js';
import { TaskTable } from '../../src/server/task-table.js';
import { TaskEventLog } from '../../src/server/task-event-log.js';
import { ErrorCode } from '../../src/core/errors.js';

/** Nothing to listen to: these tests tell the feed its events themselves, as the object routes do. */
const silent = new EventEmitter() as unknown as EventSource;

const ended = (id: string): TaskResult => ({ id, type: 'probe', status: 'completed', success: true, data: undefined, attempts: 1, startedAt: '', finishedAt: '', durationMs: 1 });

describe('TaskFeed', () => {
  it("fills in a row first seen from its start once the task's submit event comes (a queue worker was quicker)", () => {
    const table = new TaskTable();
    const feed = new TaskFeed(silent, table);
    feed.record('start', { id: 'w1', type: 'storage', startedAt: new Date().toISOString() });
    feed.record('submit', { id: 'w1', type: 'storage', priority: 4, operation: 'write', path: '/w1.txt' });
    expect(table.get('w1')).toMatchObject({ status: 'running', priority: 4, operation: 'write', path: '/w1.txt' });
  });

  it('tells its observers an end once, and names the task a retry retries on its row from the first event', () => {
    const table = new TaskTable();
    const history = new EndHistory();
    const feed = new TaskFeed(silent, table, [history]);
    const undo = feed.expectRetry('again', 'first');
    feed.record('submit', { id: 'again', type: 'probe', priority: 0 });
    feed.record('complete', ended('again'));
    feed.record('complete', ended('again'));
    expect(table.get('again')).toMatchObject({ retryOf: 'first', status: 'completed' });
    expect(history.window({ windowSeconds: 60, stepSeconds: 1 }).buckets.reduce((sum, bucket) => sum + bucket.completed, 0)).toBe(1);
    // Taken back (its submit was refused): the next task of that id is no retry.
    undo();
    feed.expectRetry('other', 'first')();
    feed.record('submit', { id: 'other', type: 'probe', priority: 0 });
    expect(table.get('other')?.retryOf).toBeUndefined();
  });

  it('shows a path as the task uses it (a relative one from the root), and no start for a task that never ran', () => {
    const table = new TaskTable();
    const feed = new TaskFeed(silent, table);
    feed.record('submit', { id: 'rel', type: 'storage', priority: 0, operation: 'write', path: 'notes/x.txt' });
    expect(table.get('rel')?.path).toBe('/notes/x.txt');
    feed.record('submit', { id: 'bad', type: 'storage', priority: 0, operation: 'write', path: '../x' });
    expect(table.get('bad')?.path).toBe('../x');
    const at = new Date().toISOString();
    feed.record('error', { id: 'rel', type: 'storage', error: { code: 'CANCELLED', message: 'cancelled before it ran', retryable: false }, result: { id: 'rel', type: 'storage', status: 'failed', success: false, error: { code: 'CANCELLED', message: 'cancelled before it ran', retryable: false }, attempts: 0, startedAt: at, finishedAt: at, durationMs: 0 } });
    expect(table.get('rel')).toMatchObject({ status: 'failed', finishedAt: at });
    expect(table.get('rel')?.startedAt).toBeUndefined();
  });

  it('a task this server submits under the id of one that ended is a new one: its row and event log start anew, whether its start or its submit comes first', () => {
    for (const order of [['start', 'submit'], ['submit', 'start']] as const) {
      const table = new TaskTable();
      const log = new TaskEventLog();
      const feed = new TaskFeed(silent, table, [log]);
      const at = new Date().toISOString();
      const lost = { id: 'again', type: 'probe', status: 'failed' as const, success: false as const, error: { code: ErrorCode.LOST, message: 'lost', retryable: false }, attempts: 1, startedAt: at, finishedAt: at, durationMs: 0 };
      feed.record('submit', { id: 'again', type: 'probe', priority: 0 });
      feed.record('start', { id: 'again', type: 'probe', startedAt: at });
      feed.record('error', { id: 'again', type: 'probe', error: lost.error, result: lost });
      feed.expectSubmits(['again']);
      for (const name of order) {
        if (name === 'start') feed.record('start', { id: 'again', type: 'probe', startedAt: at });
        else feed.record('submit', { id: 'again', type: 'probe', priority: 2 });
      }
      feed.record('complete', ended('again'));
      expect(table.get('again')).toMatchObject({ status: 'completed', priority: 2 });
      expect(table.get('again')).not.toHaveProperty('error');
      expect(log.of('again')?.events.map((event) => event.event)).toEqual(['submit', 'start', 'complete']);
    }
  });
});
