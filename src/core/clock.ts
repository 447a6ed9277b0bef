let lastMs = Number.NaN;
let lastIso = '';

/**
 * The ISO form of a time in ms. Formatting a date costs about half a
 * microsecond, and tasks that finish within the same millisecond share it:
 * the last one is remembered.
 */
export function isoTime(ms: number): string {
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}
