import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { BIN } from './bin.js';
import { makeTempDir } from './temp-dir.js';

/**
 * A fresh directory for each test of the file, under one temporary base
 * removed after them; the built bin must be there (npm test builds it).
 * Returns the current test's directory.
 */
export function useCaseDirectories(prefix: string): () => string {
  let base = '';
  let removeBase: () => Promise<void> = () => Promise.resolve();
  let cwd = '';
  let round = 0;
  beforeAll(async () => {
    if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run npm run build first (npm test does)`);
    ({ path: base, remove: removeBase } = await makeTempDir(prefix));
  });
  afterAll(() => removeBase());
  beforeEach(() => {
    round += 1;
    cwd = join(base, `case-${String(round)}`);
    mkdirSync(cwd);
  });
  return () => cwd;
}
