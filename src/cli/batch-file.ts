import { createHash } from 'node:crypto';
import { UsageError } from './exit-codes.js';

/** One config of a batch, and where it came from, as its user would point at it. */
export interface BatchEntry {
  readonly config: unknown;
  /** `batch.ndjson:3` (a line of NDJSON) or `batch.json[2]` (an item of a JSON array); `stdin` for `-`. */
  readonly from: string;
}

/**
 * Task configs from a batch file: a JSON array of configs, or NDJSON (one
 * config per line; blank lines skipped). A parse error names the line.
 */
export function parseBatch(text: string, source: string): BatchEntry[] {
  const trimmed = text.trimStart();
  if (trimmed.length === 0) return [];
  if (trimmed.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new UsageError(`${source}: bad JSON: ${describe(error)}`);
    }
    if (!Array.isArray(parsed)) throw new UsageError(`${source}: expected a JSON array of task configs`);
    return parsed.map((config: unknown, index) => ({ config, from: `${source}[${String(index)}]` }));
  }
  const entries: BatchEntry[] = [];
  text.split('\n').forEach((line, index) => {
    if (line.trim().length === 0) return;
    try {
      entries.push({ config: JSON.parse(line), from: `${source}:${String(index + 1)}` });
    } catch (error) {
      throw new UsageError(`${source}: line ${String(index + 1)}: bad JSON: ${describe(error)}`);
    }
  });
  return entries;
}

/**
 * What the ids of a batch's tasks that gave none start with: `b` + 12 hex
 * digits of the batch's SHA-256 (a task's id is this, `-`, and its position
 * from 1). The same batch gives the same ids, so running it again on a
 * durable queue finishes it (or reports it) rather than running it twice;
 * another batch, other ids.
 */
export function batchIdPrefix(batch: string | Uint8Array): string {
  return `b${createHash('sha256').update(batch).digest('hex').slice(0, 12)}`;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
