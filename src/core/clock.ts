/** The last two times formatted, and their ISO forms. */
let lastMs = Number.NaN;
let lastIso = '';
let previousMs = Number.NaN;
let previousIso = '';

/**
 * The ISO form of a time in ms. Formatting a date costs about half a
 * microsecond, and tasks that finish within the same millisecond share it:
 * the last two are remembered (a task's start and end, and a queue's own
 * clock between them, alternate).
 */
export function isoTime(ms: number): string {
  if (ms === lastMs) return lastIso;
  if (ms === previousMs) return previousIso;
  previousMs = lastMs;
  previousIso = lastIso;
  lastMs = ms;
  lastIso = new Date(ms).toISOString();
  return lastIso;
}
