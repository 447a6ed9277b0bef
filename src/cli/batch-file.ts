import { UsageError } from './exit-codes.js';

/**
 * Task configs from a batch file: a JSON array of configs, or NDJSON (one
 * config per line; blank lines skipped). A parse error names the line.
 */
export function parseBatch(text: string, source: string): unknown[] {
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
    return parsed;
  }
  const configs: unknown[] = [];
  text.split('\n').forEach((line, index) => {
    if (line.trim().length === 0) return;
    try {
      configs.push(JSON.parse(line));
    } catch (error) {
      throw new UsageError(`${source}: line ${String(index + 1)}: bad JSON: ${describe(error)}`);
    }
  });
  return configs;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
