import type { BigIntStats } from 'node:fs';

/**
 * File times as a tree's index keeps them: milliseconds, to the whole
 * microsecond. A restore can set no finer time (libuv truncates the seconds
 * it is given to whole microseconds), and the milliseconds `lstat` gives as
 * a double are not even that exact for today's dates (a quarter of a
 * microsecond apart: .999999999 s came out as the next second), so times
 * are read from the nanoseconds and cut to the microsecond.
 */

/** A file's mtime in ms, to the whole microsecond, from exact (bigint) stats. */
export function mtimeOf(stats: Pick<BigIntStats, 'mtimeNs'>): number {
  return Number(stats.mtimeNs / 1000n) / 1000;
}

/** How far apart two mtimes may be and still be the same time: what a restore cannot put back (under 1 µs), with room for rounding. */
const SAME_TIME_MS = 0.002;

/** Whether two recorded mtimes (ms) are the same time, as far as a restore can reproduce one. */
export function sameTime(a: number, b: number): boolean {
  return Math.abs(a - b) < SAME_TIME_MS;
}

/** The same for times an entry may lack (a link's, in indexes written before it was kept): both missing is the same. */
export function sameOptionalTime(a: number | undefined, b: number | undefined): boolean {
  return a === undefined || b === undefined ? a === b : sameTime(a, b);
}

/**
 * The seconds to hand utimes for an mtime of `mtimeMs`: its microsecond
 * plus half of one (minus, before 1970: libuv truncates toward zero), so
 * that libuv's truncation lands on the recorded microsecond, never on the
 * one before (which could be in the millisecond before: .001 s passed as
 * it is arrived as .000999). A time before 1970 goes as a numeric string:
 * Node sets the current time for a negative number, not for a string.
 */
export function timeToSet(mtimeMs: number): number | string {
  if (mtimeMs >= 0) return (Math.round(mtimeMs * 1000) + 0.5) / 1e6;
  return String((Math.round(mtimeMs * 1000) - 0.5) / 1e6);
}
