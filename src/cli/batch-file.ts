import { isAscii } from 'node:buffer';
import { createHash } from 'node:crypto';
import { UsageError } from './exit-codes.js';

/** One config of a batch, and where it came from, as its user would point at it. */
export interface BatchEntry {
  readonly config: unknown;
  /** `batch.ndjson:3` (a line of NDJSON) or `batch.json[2]` (an item of a JSON array); `stdin` for `-`. */
  readonly from: string;
}

/** JSON's whitespace, as bytes: what may come before a batch's first config. */
const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);
const NEWLINE = 0x0a;
const OPEN_BRACKET = 0x5b;

/**
 * Task configs from a batch file: a JSON array of configs, or NDJSON (one
 * config per line; blank lines skipped). A parse error names the line.
 * NDJSON is decoded a line at a time (as latin1 when the batch is all
 * ASCII, where it reads the same and decodes faster): decoding a large
 * batch whole, then splitting it, cost twice as long.
 */
export function parseBatch(input: Uint8Array | string, source: string): BatchEntry[] {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  let first = 0;
  while (first < bytes.length && WHITESPACE.has(bytes[first] ?? 0)) first += 1;
  if (first === bytes.length) return [];
  if (bytes[first] === OPEN_BRACKET) return parseArray(bytes.toString('utf8'), source);
  const encoding = isAscii(bytes) ? 'latin1' : 'utf8';
  const entries: BatchEntry[] = [];
  for (let start = 0, line = 1; start <= bytes.length; line += 1) {
    const newline = bytes.indexOf(NEWLINE, start);
    const end = newline === -1 ? bytes.length : newline;
    const text = bytes.toString(encoding, start, end);
    if (text.trim().length > 0) {
      try {
        entries.push({ config: JSON.parse(text), from: `${source}:${String(line)}` });
      } catch (error) {
        throw new UsageError(`${source}: line ${String(line)}: bad JSON: ${describe(error)}`);
      }
    }
    if (newline === -1) break;
    start = newline + 1;
  }
  return entries;
}

function parseArray(text: string, source: string): BatchEntry[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${source}: bad JSON: ${describe(error)}`);
  }
  if (!Array.isArray(parsed)) throw new UsageError(`${source}: expected a JSON array of task configs`);
  return parsed.map((config: unknown, index) => ({ config, from: `${source}[${String(index)}]` }));
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
