import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { FileSystemBackend } from '../../src/storage/backends/filesystem.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { describeBackendConformance } from './conformance.js';

describeBackendConformance('filesystem', async () => {
  const dir = await makeTempDir();
  const root = `${dir.path}/root`;
  return {
    backend: new FileSystemBackend({ root }),
    dispose: dir.remove,
    // Another program: plain files and directories under the root.
    foreign: {
      putFile: async (path, content) => {
        await mkdir(dirname(join(root, path)), { recursive: true });
        await writeFile(join(root, path), content);
      },
      makeDirectory: async (path) => {
        await mkdir(join(root, path), { recursive: true });
      },
    },
  };
});
