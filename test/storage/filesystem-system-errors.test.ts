import { spawnSync } from 'node:child_process';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTempDir } from '../helpers/temp-dir.js';

const TSX_LOADER = join(process.cwd(), 'node_modules', 'tsx', 'dist', 'loader.mjs');
const OPS = join(process.cwd(), 'test', 'fixtures', 'storage-ops.ts');
const DROPPED_CAPS = '-dac_override,-dac_read_search,-fowner';
const isRoot = process.getuid?.() === 0;

interface OpOutcome {
  operation: string;
  path: string;
  code: string | null;
  data: unknown;
}

function parseOutcomes(stdout: string): OpOutcome[] {
  return stdout
    .trim()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as OpOutcome);
}

/** Runs storage operations in a child, inside the `wrap` command when given. */
function runOps(root: string, operations: unknown[], options: { wrap?: string[]; metadataIn?: 'sidecars' } = {}): OpOutcome[] {
  const node = [process.execPath, '--import', TSX_LOADER, OPS, root, JSON.stringify(operations), ...(options.metadataIn === undefined ? [] : [options.metadataIn])];
  const [command, ...args] = options.wrap === undefined ? node : [...options.wrap, ...node];
  const child = spawnSync(command ?? process.execPath, args, { encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`child failed (${String(child.status)}): ${child.stderr}`);
  return parseOutcomes(child.stdout);
}

describe('filesystem backend: the operating system says no', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let root: string;

  beforeEach(async () => {
    dir = await makeTempDir();
    root = join(dir.path, 'root');
    await mkdir(join(root, 'locked'), { recursive: true });
    await writeFile(join(root, 'locked', 'old.txt'), 'old content');
    await writeFile(join(root, 'private.txt'), 'private');
  });

  afterEach(async () => {
    await chmod(join(root, 'locked'), 0o755).catch(() => undefined);
    await dir.remove();
  });

  it('EACCES on write, read and delete gives PERMISSION_DENIED, and the old content stays intact', async () => {
    await chmod(join(root, 'private.txt'), 0o000);
    await chmod(join(root, 'locked'), 0o555);
    // Root ignores permission bits: run the operations as root without the
    // capabilities that let it (the files are root's, so the bits apply).
    const wrap = isRoot ? ['setpriv', `--inh-caps=${DROPPED_CAPS}`, `--bounding-set=${DROPPED_CAPS}`] : undefined;
    const outcomes = runOps(
      root,
      [
        { operation: 'write', path: '/locked/old.txt', data: 'new content' },
        { operation: 'write', path: '/locked/new.txt', data: 'x' },
        { operation: 'read', path: '/private.txt' },
        { operation: 'delete', path: '/locked/old.txt' },
      ],
      wrap === undefined ? {} : { wrap },
    );
    expect(outcomes.map((outcome) => outcome.code)).toEqual(['PERMISSION_DENIED', 'PERMISSION_DENIED', 'PERMISSION_DENIED', 'PERMISSION_DENIED']);
    await chmod(join(root, 'locked'), 0o755);
    expect(await readFile(join(root, 'locked', 'old.txt'), 'utf8')).toBe('old content');
    expect((await readdir(join(root, 'locked'))).sort()).toEqual(['old.txt']);
  });

  const unshare = spawnSync('unshare', isRoot ? ['--mount', 'true'] : ['--mount', '--map-root-user', 'true']);
  const canMount = unshare.status === 0;
  if (!canMount) console.warn(`SKIPPED ENOSPC test: cannot make a private mount namespace here (unshare: ${unshare.stderr.toString().trim()})`);

  it.skipIf(!canMount)('ENOSPC gives NO_SPACE, keeps the old object whole and leaves no temporary file', () => {
    // A 1 MiB tmpfs in a private mount namespace: a real full disk that vanishes with the child.
    const small = join(dir.path, 'small');
    const wrap = ['unshare', ...(isRoot ? ['--mount'] : ['--mount', '--map-root-user']), 'sh', '-c', `mkdir -p "${small}" && mount -t tmpfs -o size=1m tmpfs "${small}" && exec "$0" "$@"`];
    const outcomes = runOps(
      small,
      [
        { operation: 'write', path: '/obj.bin', fill: { byte: 1, size: 100_000 } },
        { operation: 'write', path: '/obj.bin', fill: { byte: 2, size: 4 * 1024 * 1024 } },
        { operation: 'read', path: '/obj.bin', options: { as: 'buffer' } },
        { operation: 'list', path: '/' },
        { operation: 'disk-names' },
      ],
      { wrap },
    );
    expect(outcomes[0]?.code).toBeNull();
    expect(outcomes[1]?.code).toBe('NO_SPACE');
    expect(outcomes[2]).toMatchObject({ code: null, data: { bytes: 100_000 } });
    expect(outcomes[3]?.data).toMatchObject({ entries: [{ name: 'obj.bin', size: 100_000 }] });
    expect(outcomes[4]?.data).toEqual(['obj.bin']);
  });

  const hasPrlimit = spawnSync('prlimit', ['--version']).status === 0;
  if (!hasPrlimit) console.warn('SKIPPED file-size-limit test: prlimit (util-linux) is not installed');

  it.skipIf(!hasPrlimit)('a write refused part-way (file size limit, EFBIG) fails NO_SPACE and leaves no temporary file, whatever part failed', () => {
    const writes = [
      { operation: 'write', path: '/text.txt', data: 'x' },
      { operation: 'write', path: '/json.json', data: 1 },
      { operation: 'write', path: '/bytes.bin', fill: { byte: 1, size: 100 } },
      { operation: 'write', path: '/packed.txt', data: 'x'.repeat(100), options: { compression: true } },
      { operation: 'disk-names' },
    ];
    // A 20-byte file size limit: small text and JSON objects fit, their kind in an attribute of their own file;
    // longer objects fail in the object itself, compressed or not.
    const outcomes = runOps(join(dir.path, 'limited'), writes, { wrap: ['prlimit', '--fsize=20'] });
    expect(outcomes.map((outcome) => outcome.code)).toEqual([null, null, 'NO_SPACE', 'NO_SPACE', null]);
    expect(outcomes[4]?.data).toEqual(['json.json', 'text.txt']);
    // With the kind in sidecar files, the sidecar of a small object does not fit either: nothing is stored.
    const sidecars = runOps(join(dir.path, 'limited-sidecars'), writes, { wrap: ['prlimit', '--fsize=20'], metadataIn: 'sidecars' });
    expect(sidecars.map((outcome) => outcome.code)).toEqual(['NO_SPACE', 'NO_SPACE', 'NO_SPACE', 'NO_SPACE', null]);
    expect(sidecars[4]?.data).toEqual([]);
  });
});
