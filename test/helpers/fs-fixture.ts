import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { FileSystemBackend, type FileSystemBackendOptions } from '../../src/storage/backends/filesystem.js';
import { makeTempDir } from './temp-dir.js';

/** A filesystem backend rooted in a fresh temp directory; read its fields inside tests. */
export interface FileSystemFixture {
  /** The temp directory; the root is `root/` inside it, so tests can place things beside the root. */
  readonly dir: string;
  readonly root: string;
  readonly backend: FileSystemBackend;
}

/**
 * Registers hooks that give each test (or, with `per: 'suite'`, the whole
 * describe block) a fresh backend in a temp directory, removed afterwards.
 */
export function useFileSystemFixture(per: 'test' | 'suite' = 'test', options: Omit<FileSystemBackendOptions, 'root'> = {}): FileSystemFixture {
  let current: (FileSystemFixture & { remove: () => Promise<void> }) | undefined;
  const setUp = async (): Promise<void> => {
    const temp = await makeTempDir();
    const root = join(temp.path, 'root');
    current = { dir: temp.path, root, backend: new FileSystemBackend({ root, ...options }), remove: temp.remove };
  };
  const tearDown = async (): Promise<void> => {
    await current?.remove();
    current = undefined;
  };
  if (per === 'test') {
    beforeEach(setUp);
    afterEach(tearDown);
  } else {
    beforeAll(setUp);
    afterAll(tearDown);
  }
  const required = (): FileSystemFixture => {
    if (current === undefined) throw new Error('the filesystem fixture is only available inside a test');
    return current;
  };
  return {
    get dir() {
      return required().dir;
    },
    get root() {
      return required().root;
    },
    get backend() {
      return required().backend;
    },
  };
}
