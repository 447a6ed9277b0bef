import { FileSystemBackend } from '../../src/storage/backends/filesystem.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { describeBackendConformance } from './conformance.js';

describeBackendConformance('filesystem', async () => {
  const dir = await makeTempDir();
  return { backend: new FileSystemBackend({ root: `${dir.path}/root` }), dispose: dir.remove };
});
