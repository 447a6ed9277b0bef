import { describe, expect, it } from 'vitest';
import type { OrchestratorEvents } from '../../src/orchestrator/orchestrator-events.js';
import { ErrorCode } from '../../src/core/errors.js';
import { TaskEventLog } from '../../src/server/task-event-log.js';

const progress = (id: string, bytesDone: number): OrchestratorEvents['progress'] => ({ id, type: 'storage', bytesDone, bytesTotal: 100 });

describe('TaskEventLog: each task\'s events, bounded', () => {
  it('keeps a run of progress events as its latest one', () => {
    const log = new TaskEventLog();
    log.observe('start', { id: 'a', type: 'storage', startedAt: new Date().toISOString() });
    for (const done of [10, 20, 30]) log.observe('progress', progress('a', done));
    log.observe('retry', { id: 'a', type: 'storage', attempt: 1, nextAttempt: 2, delayMs: 5, error: { code: 'TIMEOUT', message: 'slow', retryable: true, details: { path: '/x' } } });
    log.observe('progress', progress('a', 5));
    const events = log.of('a')?.events ?? [];
    expect(events.map((event) => event.event)).toEqual(['start', 'progress', 'retry', 'progress']);
    expect(events[1]).toMatchObject({ bytesDone: 30, bytesTotal: 100 });
    // An error is its code, message and retryable flag: no details, no cause.
    expect(events[2]).toEqual({ event: 'retry', at: expect.any(String) as unknown, attempt: 1, nextAttempt: 2, delayMs: 5, error: { code: 'TIMEOUT', message: 'slow', retryable: true } });
    expect(events[3]).toMatchObject({ bytesDone: 5 });
  });

  it('keeps the first event and the latest ones of a long log, and counts what it dropped', () => {
    const log = new TaskEventLog({ maxEventsPerTask: 4 });
    log.observe('submit', { id: 'a', type: 'probe', priority: 0 });
    for (let attempt = 1; attempt <= 5; attempt += 1) log.observe('retry', { id: 'a', type: 'probe', attempt, nextAttempt: attempt + 1, delayMs: 0, error: { code: 'TIMEOUT', message: 'slow', retryable: true } });
    const kept = log.of('a');
    expect(kept?.events.map((event) => (event.event === 'retry' ? `retry ${String(event['attempt'])}` : event.event))).toEqual(['submit', 'retry 3', 'retry 4', 'retry 5']);
    expect(kept?.trimmed).toBe(2);
  });

  it('forgets the task heard from longest ago past its task budget', () => {
    const log = new TaskEventLog({ maxTasks: 2 });
    log.observe('submit', { id: 'a', type: 'probe', priority: 0 });
    log.observe('submit', { id: 'b', type: 'probe', priority: 0 });
    // Heard from again: now b is the one heard from longest ago.
    log.observe('start', { id: 'a', type: 'probe', startedAt: new Date().toISOString() });
    log.observe('submit', { id: 'c', type: 'probe', priority: 0 });
    expect(log.of('b')).toBeUndefined();
    expect(log.of('a')?.events).toHaveLength(2);
    expect(log.of('c')?.events).toHaveLength(1);
  });

  it('puts a submit heard after the task started (a queue worker was quicker) first', () => {
    const log = new TaskEventLog();
    log.observe('start', { id: 'a', type: 'probe', startedAt: new Date().toISOString() });
    log.observe('submit', { id: 'a', type: 'probe', priority: 2 });
    expect(log.of('a')?.events.map((event) => event.event)).toEqual(['submit', 'start']);
  });

  it('starts the log anew for a task submitted again under the id of one that ended (its queue lost it)', () => {
    const log = new TaskEventLog();
    const at = new Date().toISOString();
    log.observe('submit', { id: 'a', type: 'probe', priority: 0 });
    log.observe('start', { id: 'a', type: 'probe', startedAt: at });
    const result = { id: 'a', type: 'probe', status: 'failed' as const, success: false as const, error: { code: ErrorCode.LOST, message: 'lost', retryable: false }, attempts: 1, startedAt: at, finishedAt: at, durationMs: 0 };
    log.observe('error', { id: 'a', type: 'probe', error: result.error, result });
    log.observe('submit', { id: 'a', type: 'probe', priority: 3 });
    expect(log.of('a')?.events).toEqual([expect.objectContaining({ event: 'submit', priority: 3 })]);
  });
});
