import { cpSync, existsSync, mkdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BIN, runBin, startBin, until, type RunningBin } from '../helpers/bin.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { serviceAvailable } from '../helpers/services.js';
import { stopChild } from '../helpers/stop-child.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const haveRedis = serviceAvailable('Redis', 'redis-server', 'apt-get install -y redis-server');

/**
 * A user's task module, as a user writes it: plain ESM that imports
 * taskforge by its package name. `resize` checks its config with an
 * instance validateConfig, `shout` with a static one; `resize` writes who
 * ran it (the process id) to out/ID.txt.
 */
const MY_TASKS = `
import { mkdirSync, writeFileSync } from 'node:fs';
import { BaseTask, ErrorCode, TaskforgeError } from 'taskforge';

function invalid(subject, field, message, value) {
  return new TaskforgeError(ErrorCode.VALIDATION_ERROR, \`invalid \${subject}: \${field}: \${message} (got \${JSON.stringify(value)})\`, {
    details: { fields: [{ field, message, received: JSON.stringify(value) }] },
  });
}

class ResizeTask extends BaseTask {
  validateConfig(raw) {
    const config = super.validateConfig(raw);
    const width = config.metadata?.width;
    if (!Number.isInteger(width) || width < 1) throw invalid(\`resize task '\${this.id}'\`, 'metadata.width', 'expected a whole number of 1 or more', width);
    return config;
  }

  async executeTask(_signal, { config }) {
    mkdirSync('out', { recursive: true });
    writeFileSync(\`out/\${this.id}.txt\`, \`\${config.metadata.width} by \${process.pid}\`);
    return { width: config.metadata.width };
  }
}

class ShoutTask extends BaseTask {
  static validateConfig(config) {
    const text = config.metadata?.text;
    if (typeof text !== 'string') throw invalid(\`shout task '\${config.id}'\`, 'metadata.text', 'expected text', text);
  }

  async executeTask(_signal, { config }) {
    return config.metadata.text.toUpperCase();
  }
}

export default { resize: ResizeTask, shout: ShoutTask };
`;

let base = '';
let removeBase: () => Promise<void> = () => Promise.resolve();
/** A project whose node_modules/taskforge is this repository, as `npm install taskforge` would link it. */
let project = '';

beforeAll(async () => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run npm run build first (npm test does)`);
  ({ path: base, remove: removeBase } = await makeTempDir('cli-tasks-'));
  project = join(base, 'project');
  mkdirSync(join(project, 'node_modules'), { recursive: true });
  symlinkSync(resolve('.'), join(project, 'node_modules', 'taskforge'), 'dir');
  writeFileSync(join(project, 'my-tasks.js'), MY_TASKS);
});
afterAll(() => removeBase());

let moduleNumber = 0;

/** Writes a module into the project and returns its ./name. */
function module(source: string): string {
  moduleNumber += 1;
  const name = `module-${String(moduleNumber)}.js`;
  writeFileSync(join(project, name), source);
  return `./${name}`;
}

const LIST = '{"type":"storage","metadata":{"operation":"list","path":"/"}}\n';
const IMPORT_BASE = "import { BaseTask } from 'taskforge';\nclass Fine extends BaseTask { async executeTask() { return 1; } }\n";

function lines(stdout: string): Record<string, unknown>[] {
  return stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('--tasks MODULE: a module that cannot serve is refused with exit 2, naming it and the problem', () => {
  it.each([
    ['a file that does not exist', () => './missing.js', (m: string) => `${m}: no such file (${join(project, 'missing.js')})`],
    ['a package that cannot be found', () => 'no-such-tasks-package', (m: string) => `${m}: no such file in ${project}, and no package of that name can be found from there (Cannot find package 'no-such-tasks-package' imported from ${project}/)`],
    ['a directory', () => './node_modules', (m: string) => `${m}: is a directory; name the module file in it (such as ./node_modules/index.js)`],
    ['a module that throws while loading', () => module("throw new TypeError('no GPU found');"), (m: string) => `${m}: loading it threw TypeError: no GPU found`],
    ['a module that throws something that is no Error', () => module("throw 'out of luck';"), (m: string) => `${m}: loading it threw the string "out of luck"`],
    ['a module whose own import is missing', () => module("import 'sharp-nowhere';\nexport default {};"), (m: string) => `${m}: loading it threw Error: Cannot find package 'sharp-nowhere' imported from ${join(project, m.slice('--tasks ./'.length))}`],
    ['a module with a syntax error', () => module('export default {'), (m: string) => `${m}: loading it threw SyntaxError: Unexpected end of input (node --check ${join(project, m.slice('--tasks ./'.length))} shows where)`],
    ['no default export', () => module(`${IMPORT_BASE}export const resize = Fine;`), (m: string) => `${m}: has no default export; expected \`export default { type: TaskClass }\``],
    ['a default export that is an array', () => module(`${IMPORT_BASE}export default [Fine];`), (m: string) => `${m}: its default export is an array, not a plain object; expected \`export default { type: TaskClass }\``],
    [
      'a default export that is one class',
      () => module(`${IMPORT_BASE}export default Fine;`),
      (m: string) => `${m}: its default export is the function Fine, not a plain object; expected \`export default { type: TaskClass }\` (for one class: \`export default { name: Fine }\`)`,
    ],
    ['a default export that maps nothing', () => module('export default {};'), (m: string) => `${m}: its default export maps no task types; expected \`export default { type: TaskClass }\``],
    ['a value that is not a class', () => module('export default { resize: 3 };'), (m: string) => `${m}: 'resize' is the number 3, not a class that extends BaseTask`],
    ['an arrow function', () => module('export default { resize: () => 1 };'), (m: string) => `${m}: 'resize' is the function resize, not a class: give a class that extends BaseTask`],
    ['a class that does not extend BaseTask', () => module('export default { resize: class Resize {} };'), (m: string) => `${m}: 'resize' is the function Resize, which does not extend BaseTask`],
    ['BaseTask itself', () => module("import { BaseTask } from 'taskforge';\nexport default { resize: BaseTask };"), (m: string) => `${m}: 'resize' is BaseTask itself; give a class that extends it and implements executeTask()`],
    [
      'a bad type name',
      () => module(`${IMPORT_BASE}export default { Resize: Fine };`),
      (m: string) => `${m}: "Resize" is not a task type name: a lowercase letter, then up to 63 lowercase letters, digits, '.', '_' or '-'`,
    ],
    ['the built-in name storage', () => module(`${IMPORT_BASE}export default { storage: Fine };`), (m: string) => `${m}: 'storage' is the built-in task type; give yours another name`],
  ])('run: %s', (_name, make, message) => {
    const specifier = make();
    const ran = runBin(project, ['run', '-', '--tasks', specifier], { input: LIST });
    expect(ran).toEqual({ code: 2, stdout: '', stderr: `taskforge: ${message(`--tasks ${specifier}`)}\n` });
  });

  it('worker and serve refuse the same way, before they connect or listen', () => {
    const worker = runBin(project, ['worker', '--queue', 'redis://127.0.0.1:1', '--tasks', './missing.js']);
    expect(worker).toEqual({ code: 2, stdout: '', stderr: `taskforge: --tasks ./missing.js: no such file (${join(project, 'missing.js')})\n` });
    const serve = runBin(project, ['serve', '--port', '0', '--tasks', module('export default { resize: 3 };')]);
    expect(serve.code).toBe(2);
    expect(serve.stderr).toMatch(/^taskforge: --tasks \.\/module-\d+\.js: 'resize' is the number 3, not a class that extends BaseTask\n$/);
  });

  it("refuses a class that extends another copy of taskforge's BaseTask (imported by path), and gives a module's 'taskforge' import the command's own copy", () => {
    // A second, separate copy of the package, as a project install beside a global command would be.
    const copy = join(base, 'other-taskforge');
    mkdirSync(join(copy, 'dist'), { recursive: true });
    cpSync('package.json', join(copy, 'package.json'));
    cpSync(join('dist', 'src'), join(copy, 'dist', 'src'), { recursive: true });
    symlinkSync(realpathSync('node_modules'), join(copy, 'node_modules'), 'dir');
    const elsewhere = join(base, 'elsewhere');
    mkdirSync(join(elsewhere, 'node_modules'), { recursive: true });
    symlinkSync(copy, join(elsewhere, 'node_modules', 'taskforge'), 'dir');
    const echo = "class Echo extends BaseTask { async executeTask(_signal, { config }) { return config.metadata.text; } }\nexport default { echo: Echo };\n";
    writeFileSync(join(elsewhere, 'by-path.js'), `import { BaseTask } from '../other-taskforge/dist/src/index.js';\n${echo}`);
    writeFileSync(join(elsewhere, 'by-name.js'), `import { BaseTask } from 'taskforge';\n${echo}`);
    const input = '{"id":"e","type":"echo","metadata":{"text":"hi"}}\n';
    expect(runBin(elsewhere, ['run', '-', '--tasks', './by-path.js'], { input })).toEqual({
      code: 2,
      stdout: '',
      stderr: "taskforge: --tasks ./by-path.js: 'echo' extends BaseTask from another copy of taskforge than this command's; import it as `import { BaseTask } from 'taskforge'`\n",
    });
    // By name, node_modules/taskforge (the other copy) is not what the module gets: the command's own copy is.
    const byName = runBin(elsewhere, ['run', '-', '--tasks', './by-name.js', '--json'], { input });
    expect(byName.stderr).toBe('');
    expect(lines(byName.stdout)).toEqual([expect.objectContaining({ id: 'e', type: 'echo', status: 'completed' })]);
    // And with no taskforge installed beside the module at all.
    const bare = join(base, 'bare');
    mkdirSync(bare);
    writeFileSync(join(bare, 'by-name.js'), `import { BaseTask } from 'taskforge';\n${echo}`);
    expect(runBin(bare, ['run', '-', '--tasks', 'by-name.js', '--json'], { input }).code).toBe(0);
  });
});

describe('taskforge run --tasks', () => {
  it.each([['memory'], ['sqlite:queue.db']])('runs a batch of custom-type lines beside storage ones (--queue %s)', (queue) => {
    const cwd = join(project, `run-${queue.replace(/\W/g, '-')}`);
    mkdirSync(cwd);
    writeFileSync(join(cwd, 'batch.ndjson'), [
      '{"id":"r1","type":"resize","priority":2,"metadata":{"width":640}}',
      '{"id":"r2","type":"resize","metadata":{"width":32}}',
      '{"id":"s1","type":"shout","metadata":{"text":"hello"}}',
      '{"id":"w","type":"storage","dependsOn":["r1","s1"],"metadata":{"operation":"write","path":"/done.txt","data":"after the custom ones"}}',
    ].join('\n'));
    const ran = runBin(cwd, ['run', 'batch.ndjson', '--tasks', '../my-tasks.js', '--queue', queue, '--json']);
    expect(ran.stderr).toBe('');
    expect(ran.code).toBe(0);
    expect(lines(ran.stdout).map((line) => [line['id'], line['type'], line['status']])).toEqual(
      expect.arrayContaining([['r1', 'resize', 'completed'], ['r2', 'resize', 'completed'], ['s1', 'shout', 'completed'], ['w', 'storage', 'completed']]),
    );
    // Each line carries what its task gave back: a custom task's value, a write's result.
    const byId = new Map(lines(ran.stdout).map((line) => [line['id'], line]));
    expect(byId.get('s1')).toMatchObject({ data: 'HELLO' });
    expect(byId.get('w')).toMatchObject({ data: { path: '/done.txt', size: 21 } });
    expect(readFileSync(join(cwd, 'out', 'r1.txt'), 'utf8')).toMatch(/^640 by \d+$/);
    expect(readFileSync(join(cwd, 'taskforge-data', 'done.txt'), 'utf8')).toBe('after the custom ones');
  });

  it("refuses a bad custom config before anything runs: exit 2, the line and its class's message (instance and static validateConfig)", () => {
    const cwd = join(project, 'run-bad');
    mkdirSync(cwd);
    const instance = runBin(cwd, ['run', '-', '--tasks', '../my-tasks.js'], { input: `${LIST}{"id":"r0","type":"resize","metadata":{"width":0}}\n` });
    expect(instance).toEqual({ code: 2, stdout: '', stderr: "taskforge: stdin:2 (id 'r0'): VALIDATION_ERROR: metadata.width: expected a whole number of 1 or more (got 0)\n" });
    const unnamed = runBin(cwd, ['run', '-', '--tasks', '../my-tasks.js'], { input: '{"type":"shout","metadata":{"text":7}}\n' });
    expect(unnamed).toEqual({ code: 2, stdout: '', stderr: 'taskforge: stdin:1: VALIDATION_ERROR: metadata.text: expected text (got 7)\n' });
    const unknown = runBin(cwd, ['run', '-', '--tasks', '../my-tasks.js'], { input: '{"type":"email"}\n' });
    expect(unknown.stderr).toBe('taskforge: stdin:1: type: expected \'storage\' or a type of --tasks ../my-tasks.js (resize, shout) (got "email")\n');
    expect(existsSync(join(cwd, 'out'))).toBe(false);
    expect(existsSync(join(cwd, 'taskforge-data'))).toBe(false);
  });

  it('loads a package by its name, looked up from the current directory', () => {
    const cwd = join(project, 'run-package');
    mkdirSync(join(project, 'node_modules', 'acme-tasks'), { recursive: true });
    writeFileSync(join(project, 'node_modules', 'acme-tasks', 'package.json'), JSON.stringify({ name: 'acme-tasks', type: 'module', exports: { '.': { import: './index.js' } } }));
    writeFileSync(join(project, 'node_modules', 'acme-tasks', 'index.js'), "export { default } from '../../my-tasks.js';\n");
    mkdirSync(cwd);
    const ran = runBin(cwd, ['run', '-', '--tasks', 'acme-tasks', '--json'], { input: '{"id":"s","type":"shout","metadata":{"text":"hi"}}\n' });
    expect(ran.stderr).toBe('');
    expect(lines(ran.stdout)).toEqual([expect.objectContaining({ id: 's', type: 'shout', status: 'completed' })]);
  });

  it.each(['run', 'worker', 'serve'])('%s --help explains --tasks', (command) => {
    const help = runBin(project, [command, '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--tasks <module>');
    expect(help.stdout).toContain('--tasks ./my-tasks.js');
  });
});

describe.runIf(haveRedis)('taskforge worker --tasks', () => {
  let redis: RedisServer | undefined;
  const started: RunningBin[] = [];
  beforeAll(async () => {
    redis = await startRedisServer();
  }, 20_000);
  afterEach(async () => {
    for (const running of started.splice(0)) await stopChild(running.child);
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('runs a custom type submitted by another process (taskforge run --queue redis:// --tasks)', async () => {
    const cwd = join(project, 'redis');
    mkdirSync(cwd);
    const queue = `${redis?.url ?? ''}?name=custom`;
    const worker = startBin(cwd, ['worker', '--queue', queue, '--tasks', '../my-tasks.js', '--json']);
    started.push(worker);
    await until(() => worker.output.stderr.includes('running tasks from') || worker.child.exitCode !== null);
    expect(worker.child.exitCode).toBeNull();
    // A bad config is refused by the submitter: nothing reaches the queue.
    const refused = runBin(cwd, ['run', '-', '--queue', queue, '--tasks', '../my-tasks.js'], { input: '{"id":"bad","type":"resize","metadata":{"width":"wide"}}\n' });
    expect(refused).toEqual({ code: 2, stdout: '', stderr: 'taskforge: stdin:1 (id \'bad\'): VALIDATION_ERROR: metadata.width: expected a whole number of 1 or more (got "wide")\n' });
    const batch = ['{"id":"a","type":"resize","metadata":{"width":10}}', '{"id":"b","type":"resize","metadata":{"width":20}}', '{"id":"c","type":"shout","metadata":{"text":"far"}}'].join('\n');
    const ran = runBin(cwd, ['run', '-', '--queue', queue, '--tasks', '../my-tasks.js', '--json'], { input: batch });
    expect(ran.stderr).toBe('');
    expect(ran.code).toBe(0);
    expect(lines(ran.stdout).map((line) => [line['id'], line['status']]).sort()).toEqual([['a', 'completed'], ['b', 'completed'], ['c', 'completed']]);
    // The worker ran them: its process id is in what the task wrote.
    expect(readFileSync(join(cwd, 'out', 'a.txt'), 'utf8')).toBe(`10 by ${String(worker.child.pid)}`);
    expect(readFileSync(join(cwd, 'out', 'b.txt'), 'utf8')).toBe(`20 by ${String(worker.child.pid)}`);
    expect(existsSync(join(cwd, 'out', 'bad.txt'))).toBe(false);
    await until(() => lines(worker.output.stdout).length === 3);
    expect(lines(worker.output.stdout).map((line) => [line['id'], line['type'], line['status']]).sort()).toEqual([['a', 'resize', 'completed'], ['b', 'resize', 'completed'], ['c', 'shout', 'completed']]);
  }, 60_000);
});

describe('taskforge run --queue sqlite: interrupted', () => {
  it('Ctrl-C keeps what waits and what the 10 s cut off in the queue, says how many, and the same command again runs them', async () => {
    const cwd = join(project, 'run-kept');
    mkdirSync(cwd);
    // As long as SLOW_MS says: the first run's tasks outlast its 10 s, the second run's do not.
    writeFileSync(join(cwd, 'slow.js'), "import { BaseTask } from 'taskforge';\nclass Slow extends BaseTask { async executeTask(signal) { await new Promise((done, fail) => { const t = setTimeout(done, Number(process.env.SLOW_MS)); signal.addEventListener('abort', () => { clearTimeout(t); fail(signal.reason); }); }); return 1; } }\nexport default { slow: Slow };\n");
    writeFileSync(join(cwd, 'batch.ndjson'), ['a', 'b', 'c'].map((id) => JSON.stringify({ id, type: 'slow' })).join('\n'));
    const args = ['run', 'batch.ndjson', '--tasks', './slow.js', '--queue', 'sqlite:q.db', '--concurrency', '1'];
    const first = startBin(cwd, args, { SLOW_MS: '60000' });
    await until(() => existsSync(join(cwd, 'q.db')) || first.child.exitCode !== null);
    await new Promise((done) => setTimeout(done, 500));
    first.child.kill('SIGINT');
    expect((await first.exited).code).toBe(1);
    expect(first.output.stderr).toContain('running tasks get 10 s to finish (again to stop at once); what waits, or is cut off, stays in the queue: the same command again runs it');
    expect(first.output.stderr).toContain(`taskforge: 3 tasks stay in sqlite:${join(cwd, 'q.db')}, unfinished: the same command again runs them\n`);
    const again = runBin(cwd, [...args, '--json'], { env: { SLOW_MS: '10' } });
    expect(again.code).toBe(0);
    expect(lines(again.stdout).map((line) => [line['id'], line['status']]).sort()).toEqual([['a', 'completed'], ['b', 'completed'], ['c', 'completed']]);
  }, 40_000);
});

describe('taskforge run: a task that ignores its cancellation', () => {
  it('is given up 2 s after the 10 s, named, and the process exits 1 without waiting for its work', async () => {
    const cwd = join(project, 'run-stuck');
    mkdirSync(cwd);
    writeFileSync(join(cwd, 'stuck.js'), "import { BaseTask } from 'taskforge';\nclass Stuck extends BaseTask { async executeTask() { await new Promise((done) => setTimeout(done, 40_000)); return 1; } }\nexport default { stuck: Stuck };\n");
    writeFileSync(join(cwd, 'batch.ndjson'), JSON.stringify({ id: 'X1', type: 'stuck' }));
    const running = startBin(cwd, ['run', 'batch.ndjson', '--tasks', './stuck.js']);
    await new Promise((done) => setTimeout(done, 1000));
    const stoppedAt = Date.now();
    running.child.kill('SIGTERM');
    expect((await running.exited).code).toBe(1);
    // The 10 s, the 2 s grace, and no more (the task's own 40 s are not waited for).
    expect(Date.now() - stoppedAt).toBeLessThan(20_000);
    expect(running.output.stderr).toContain('taskforge: 1 task ignored the cancellation for 2000 ms and was given up (X1): the process does not wait for its work\n');
  }, 40_000);
});

describe('taskforge serve --tasks', () => {
  let server: RunningBin | undefined;
  afterEach(async () => {
    if (server !== undefined) await stopChild(server.child);
  });

  it('accepts POST /tasks of a custom type and runs it, refuses a bad custom config with 400, and still serves the OpenAPI document and the dashboard', async () => {
    const cwd = join(project, 'serve');
    mkdirSync(cwd);
    const running = startBin(cwd, ['serve', '--port', '0', '--tasks', '../my-tasks.js']);
    server = running;
    await until(() => /http:\/\/127\.0\.0\.1:\d+/.test(running.output.stderr) || running.child.exitCode !== null);
    const url = /http:\/\/127\.0\.0\.1:\d+/.exec(running.output.stderr)?.[0] ?? '';
    expect(url).not.toBe('');
    const post = (body: unknown): Promise<Response> => fetch(`${url}/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

    const accepted = await post({ id: 'r', type: 'resize', metadata: { width: 8 } });
    expect(accepted.status).toBe(202);
    expect(await accepted.json()).toEqual({ ids: ['r'] });
    let task: { status?: string; result?: { data?: unknown } } = {};
    while (task.status !== 'completed' && task.status !== 'failed') task = (await (await fetch(`${url}/tasks/r`)).json()) as typeof task;
    expect(task).toMatchObject({ status: 'completed', result: { data: { width: 8 } } });

    const bad = await post({ id: 'r0', type: 'resize', metadata: { width: 0 } });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({
      error: { code: 'VALIDATION_ERROR', message: "invalid resize task 'r0': metadata.width: expected a whole number of 1 or more (got 0)", fields: [{ field: 'metadata.width', message: 'expected a whole number of 1 or more' }] },
    });
    const badInBatch = await post([{ id: 's1', type: 'shout', metadata: { text: 'ok' } }, { id: 's2', type: 'shout', metadata: {} }]);
    expect(badInBatch.status).toBe(400);
    expect(await badInBatch.json()).toMatchObject({ error: { code: 'VALIDATION_ERROR', fields: [{ field: '[1].metadata.text' }] } });
    expect((await fetch(`${url}/tasks/s1`)).status).toBe(404);

    const openapi = await fetch(`${url}/openapi.json`);
    expect(openapi.status).toBe(200);
    expect(((await openapi.json()) as { openapi?: string }).openapi).toBe('3.1.0');
    const dashboard = await fetch(`${url}/`);
    expect(dashboard.status).toBe(200);
    expect(await dashboard.text()).toContain('<html');
    running.child.kill('SIGTERM');
    expect((await running.exited).code).toBe(0);
  }, 30_000);

  /** A serve over `queue` with a task type whose work takes `ms` and ignores its cancellation or not; its URL once it listens. */
  async function serveSlow(name: string, args: readonly string[], ignoreCancel: boolean): Promise<{ running: RunningBin; url: string }> {
    const cwd = join(project, name);
    mkdirSync(cwd);
    const work = ignoreCancel ? 'await new Promise((done) => setTimeout(done, 20_000))' : 'await new Promise((done, fail) => { const t = setTimeout(done, 20_000); signal.addEventListener("abort", () => { clearTimeout(t); fail(signal.reason); }); })';
    writeFileSync(join(cwd, 'slow.js'), `import { BaseTask } from 'taskforge';\nclass Slow extends BaseTask { async executeTask(signal) { ${work}; return 1; } }\nexport default { slow: Slow };\n`);
    const running = startBin(cwd, ['serve', '--port', '0', '--tasks', './slow.js', ...args]);
    server = running;
    await until(() => /http:\/\/127\.0\.0\.1:\d+/.test(running.output.stderr) || running.child.exitCode !== null);
    const url = /http:\/\/127\.0\.0\.1:\d+/.exec(running.output.stderr)?.[0] ?? '';
    expect(url).not.toBe('');
    return { running, url };
  }

  async function submitAndWaitRunning(url: string, ids: readonly string[]): Promise<void> {
    const body = JSON.stringify(ids.map((id) => ({ id, type: 'slow' })));
    expect((await fetch(`${url}/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).status).toBe(202);
    let status = '';
    while (status !== 'running') status = ((await (await fetch(`${url}/tasks/${ids[0] ?? ''}`)).json()) as { status: string }).status;
  }

  it('a task that ignores its cancellation does not hold the stop: given up STOP_GRACE_MS past --shutdown-timeout, the process exits 1 saying so', async () => {
    const { running, url } = await serveSlow('serve-stuck', ['--shutdown-timeout', '200'], true);
    await submitAndWaitRunning(url, ['stuck']);
    const stoppedAt = Date.now();
    running.child.kill('SIGTERM');
    expect((await running.exited).code).toBe(1);
    // Not the task's 20 s: the bound is the timeout, the 2 s grace and a close.
    expect(Date.now() - stoppedAt).toBeLessThan(10_000);
    expect(running.output.stderr).toContain('taskforge serve: 1 running task cut off at the timeout (cancelled)\ntaskforge serve: 1 task ignored its cancellation for 2000 ms and was given up (stuck); exiting now\n');
  }, 30_000);

  it('on a SQLite queue the stop keeps what its timeout cut off and what waits, says so, and the next serve runs them', async () => {
    const { running, url } = await serveSlow('serve-kept', ['--shutdown-timeout', '100', '--queue', 'sqlite:q.db', '--concurrency', '1'], false);
    await submitAndWaitRunning(url, ['first', 'second']);
    running.child.kill('SIGTERM');
    expect((await running.exited).code).toBe(0);
    expect(running.output.stderr).toContain('taskforge serve: 1 running task cut off at the timeout (kept in the queue: run again); 1 waiting task kept in the queue\n');
    const restartedAt = new Date().toISOString();
    const again = await serveSlow('serve-kept-again', ['--queue', `sqlite:${join(project, 'serve-kept', 'q.db')}`, '--concurrency', '1', '--shutdown-timeout', '100'], false);
    const first = (await (await fetch(`${again.url}/tasks/first`)).json()) as { status: string; attempts: number };
    // The attempt under way is counted: the cut-off one was the first.
    expect(first).toMatchObject({ status: 'running', attempts: 2 });
    // Listed from the start (not first seen at their next event), with the time they were submitted, before this restart.
    const listed = ((await (await fetch(`${again.url}/tasks`)).json()) as { tasks: { id: string; status: string; submittedAt: string }[] }).tasks;
    expect(listed.map((row) => [row.id, row.status]).sort()).toEqual([['first', 'running'], ['second', 'pending']]);
    for (const row of listed) expect(row.submittedAt < restartedAt).toBe(true);
    again.running.child.kill('SIGTERM');
    expect((await again.running.exited).code).toBe(0);
  }, 30_000);
});
