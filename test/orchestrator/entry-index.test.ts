import { describe, expect, it } from 'vitest';
import { newTaskId, newTaskSerial, serialOf, taskIdOf } from '../../src/core/ids.js';
import { EntryIndex } from '../../src/orchestrator/queues/entry-index.js';

const entry = (id: string): { id: string; serial: number | undefined } => ({ id, serial: serialOf(id) });

describe('task ids this process made, and the index of a local queue', () => {
  it('reads back the serial of an id it made, and of no other form of it', () => {
    const serial = newTaskSerial();
    const id = taskIdOf(serial);
    expect(serialOf(id)).toBe(serial);
    expect(serialOf(newTaskId())).toBe(serial + 1);
    const prefix = id.slice(0, id.lastIndexOf('-') + 1);
    for (const other of [`${prefix}0${serial.toString(36)}`, `${prefix}${serial.toString(36).toUpperCase()}x`, `${prefix}${(serial + 1000).toString(36)}`, prefix, `${prefix}-1`, 'x', `t0000000000000000-${serial.toString(36)}`]) {
      expect(serialOf(other), other).toBeUndefined();
    }
  });

  it('finds an entry by its id whichever way it is kept, a given id in the made form included, and deletes only the entry it holds', () => {
    const index = new EntryIndex<{ id: string; serial: number | undefined }>();
    const made = entry(newTaskId());
    const given = entry('my-task');
    index.set(made);
    index.set(given);
    expect(index.size).toBe(2);
    expect(index.get(made.id)).toBe(made);
    expect(index.get('my-task')).toBe(given);
    // The same id as another string (one written by hand, read from a file) is the same key.
    expect(index.has(Buffer.from(made.id).toString())).toBe(true);
    index.delete({ id: made.id, serial: made.serial });
    expect(index.get(made.id)).toBe(made);
    expect([...index.values()]).toEqual([made, given]);
    index.delete(made);
    index.delete(given);
    expect(index.size).toBe(0);
    expect(index.get(made.id)).toBeUndefined();
  });
});
