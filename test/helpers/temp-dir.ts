import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';

/** A fresh directory under the OS temp dir, and a way to remove it. */
export async function makeTempDir(prefix = 'taskforge-test-'): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** Registers hooks that give each test a fresh temp directory, removed after it; read `path` inside tests. */
export function useTempDir(prefix?: string): { readonly path: string } {
  let current: { path: string; remove: () => Promise<void> } | undefined;
  beforeEach(async () => {
    current = await makeTempDir(prefix);
  });
  afterEach(async () => {
    await current?.remove();
    current = undefined;
  });
  return {
    get path() {
      if (current === undefined) throw new Error('the temp directory is only there inside a test');
      return current.path;
    },
  };
}
