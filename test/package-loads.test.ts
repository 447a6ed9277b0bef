import { spawnSync } from 'node:child_process';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir } from './helpers/temp-dir.js';

/**
 * Which packages a program loads, seen from inside a plain `node` run
 * against the built package (`npm test` builds dist/ first; 'taskforge'
 * resolves to it through the exports map). Two ways in, both watched: every
 * module the ESM loader resolves (import, import() of any package, CommonJS
 * or not) is logged by a resolve hook, and every CommonJS module in
 * require's cache (createRequire, and all that those require) is logged
 * when the process exits.
 */
const HEAVY_PACKAGES = ['bullmq', 'ioredis', '@aws-sdk', 'fastify', 'prom-client', 'pino'] as const;

const RESOLVE_HOOK = `
import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(process.env.TASKFORGE_LOAD_LOG, resolved.url + '\\n');
  return resolved;
}`;

const WATCHER = `
import { register, createRequire } from 'node:module';
import { appendFileSync } from 'node:fs';
register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(RESOLVE_HOOK)}));
process.on('exit', () => {
  const cache = createRequire(process.cwd() + '/').cache;
  appendFileSync(process.env.TASKFORGE_LOAD_LOG, ['#exit', ...Object.keys(cache)].join('\\n') + '\\n');
});`;

let work: { path: string; remove: () => Promise<void> };
let runs = 0;

interface Watched {
  readonly stdout: string;
  readonly stderr: string;
  /** The heavy packages loaded, each once, sorted. */
  readonly heavy: string[];
  /** What the process loaded of them, for the failure message. */
  readonly files: string[];
}

/** Runs a module script with plain node in this checkout and says which heavy packages it loaded. */
async function watchLoads(args: readonly string[], env: NodeJS.ProcessEnv = {}, allow: { readonly stderr?: boolean } = {}): Promise<Watched> {
  runs += 1;
  const log = join(work.path, `loads-${String(runs)}.txt`);
  const child = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(WATCHER)}`, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env['PATH'], HOME: process.env['HOME'], TASKFORGE_LOAD_LOG: log, TASKFORGE_STORAGE_ROOT: join(work.path, `root-${String(runs)}`), ...env },
    timeout: 60_000,
  });
  if (allow.stderr !== true) expect(child.stderr).toBe('');
  expect(child.status).toBe(0);
  const lines = (await readFile(log, 'utf8')).split('\n');
  // A resolve hook that logged nothing, or an exit hook that never ran, would make every check pass: both must have written.
  expect(lines.some((line) => line.startsWith('file://'))).toBe(true);
  expect(lines).toContain('#exit');
  const files = lines.filter((line) => HEAVY_PACKAGES.some((name) => line.includes(`/node_modules/${name}/`)));
  const heavy = [...new Set(files.map((file) => HEAVY_PACKAGES.find((name) => file.includes(`/node_modules/${name}/`)) ?? ''))].sort();
  return { stdout: child.stdout, stderr: child.stderr, heavy, files };
}

function moduleScript(source: string): string[] {
  return ['--input-type=module', '--eval', source];
}

beforeAll(async () => {
  await access('dist/src/index.js');
  work = await makeTempDir('taskforge-loads-');
});

afterAll(async () => {
  await work.remove();
});

describe('what importing taskforge loads', () => {
  it('import("taskforge") loads none of bullmq, ioredis, the AWS SDK, fastify, prom-client, pino', async () => {
    const run = await watchLoads(moduleScript(`const taskforge = await import('taskforge'); console.log(Object.keys(taskforge).length);`));
    expect(Number(run.stdout)).toBeGreaterThan(50);
    expect(run.heavy, run.files.join('\n')).toEqual([]);
  });

  it('the in-process quick start loads none of them: a StorageTask write and read, an orchestrator on the memory queue', async () => {
    const run = await watchLoads(
      moduleScript(`
        import { MemoryQueue, Orchestrator, StorageTask, TaskType } from 'taskforge';
        const written = await new StorageTask({ type: TaskType.STORAGE, metadata: { operation: 'write', path: '/data/file.txt', data: { content: 'Hello World' }, options: { compression: true } } }).execute();
        const read = await new StorageTask({ type: TaskType.STORAGE, metadata: { operation: 'read', path: '/data/file.txt' } }).execute();
        const orchestrator = new Orchestrator({ concurrency: 8, queue: new MemoryQueue() });
        await orchestrator.submit({ id: 'w', type: 'storage', priority: 1, metadata: { operation: 'write', path: '/data/a.json', data: { n: 1 } } });
        const second = await orchestrator.submit({ id: 'r', type: 'storage', priority: 9, dependsOn: ['w'], metadata: { operation: 'read', path: '/data/a.json' } });
        const result = await second.result;
        await orchestrator.shutdown();
        console.log(JSON.stringify([written.status, read.data, result.data]));
      `),
    );
    expect(JSON.parse(run.stdout)).toEqual(['completed', { content: 'Hello World' }, { n: 1 }]);
    expect(run.heavy, run.files.join('\n')).toEqual([]);
  });

  it('the taskforge command loads none of them for --help and a local write and read', async () => {
    const root = join(work.path, 'cli-root');
    const outputs: string[] = [];
    for (const args of [['--help'], ['write', '/greeting.txt', '--data', 'hi', '--root', root], ['read', '/greeting.txt', '--root', root]]) {
      const run = await watchLoads(['dist/src/cli/bin.js', ...args]);
      outputs.push(run.stdout);
      expect(run.heavy, `${args.join(' ')}:\n${run.files.join('\n')}`).toEqual([]);
    }
    expect(outputs[0]).toContain('Usage: taskforge');
    expect(outputs[2]).toBe('hi');
  });

  // The watcher sees each package once it is used: without this, a watcher blind to one would pass the checks above.
  it('each is loaded once its feature is used, and only then', async () => {
    const used = async (feature: string): Promise<string[]> =>
      (await watchLoads(moduleScript(`import * as taskforge from 'taskforge'; ${feature}`), { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' })).heavy;
    expect(await used(`new taskforge.OrchestratorMetrics();`)).toEqual(['prom-client']);
    expect(await used(`new taskforge.S3Backend({ bucket: 'b', clientConfig: { region: 'us-east-1' } });`)).toEqual(['@aws-sdk']);
    expect(await used(`const orchestrator = new taskforge.Orchestrator(); const server = await taskforge.startServer({ orchestrator, port: 0 }); await server.close(); await orchestrator.shutdown();`)).toEqual(['fastify', 'prom-client']);
    expect(await used(`await import('bullmq'); await import('ioredis');`)).toEqual(['bullmq', 'ioredis']);
    // pino only once logging is on (TASKFORGE_LOG_LEVEL), and then it logs.
    const task = `await new taskforge.StorageTask({ type: 'storage', metadata: { operation: 'list', path: '/' } }).execute();`;
    expect(await used(task)).toEqual([]);
    const logging = await watchLoads(moduleScript(`import * as taskforge from 'taskforge'; ${task}`), { TASKFORGE_LOG_LEVEL: 'debug' }, { stderr: true });
    expect(logging.heavy).toEqual(['pino']);
    expect(logging.stderr).toMatch(/"name":"taskforge"/);
  });
});
