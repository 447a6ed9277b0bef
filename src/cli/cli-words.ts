/**
 * The library's words for a one-off command's failure, turned into the
 * command line's: an option is named by the flag that sets it, and the id
 * the command gave its task (which its user never saw) is left out.
 */
const REWRITES: readonly (readonly [RegExp, string])[] = [
  [/^(invalid )?storage task '[^']*': /, ''],
  [/\bmetadata\.options\.maxBytes\b/g, '--max-bytes'],
  [/\bmetadata\.options\.timeout\b/g, '--timeout'],
  [/\bmetadata\.options\.retries\b/g, '--retries'],
  [/\bmetadata\.options\.compression\.level\b/g, '--level'],
  [/\bmetadata\.options\.compression\b/g, '--compress'],
  [/\bmetadata\.options\.limit\b/g, '--limit'],
  [/\bmetadata\.path\b/g, 'PATH'],
  [/\(use recursive to remove it\)/g, '(use --recursive to remove it)'],
  [/it already exists and overwrite is false/g, 'it already exists (and --no-overwrite was given)'],
  [/encryption was required and the stored object is plain/g, '--encrypted was given and the stored object is plain'],
  [/, or give the task a keyring\)/g, ')'],
];

/** `message` as a command-line user reads it. */
export function inCliWords(message: string): string {
  return REWRITES.reduce((text, [pattern, replacement]) => text.replace(pattern, replacement), message);
}

/** `1 file`, `2 files`: a count and its noun. */
export function plural(count: number, noun: string): string {
  return `${String(count)} ${noun}${count === 1 ? '' : 's'}`;
}

/** Up to five ids, then a count of the rest. */
export function listed(ids: readonly string[]): string {
  const shown = ids.slice(0, 5).join(', ');
  return ids.length > 5 ? `${shown} and ${String(ids.length - 5)} more` : shown;
}
