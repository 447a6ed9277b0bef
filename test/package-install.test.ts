import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPTIONAL_PACKAGES } from '../src/core/optional-package.js';
import { runCommand, type CommandResult } from './helpers/command.js';
import { makeTempDir } from './helpers/temp-dir.js';

/**
 * What someone who installs taskforge gets: the tarball `npm pack` makes,
 * installed with npm into an empty project, used with plain `node` and `npx`.
 * Needs the npm registry, as any install does.
 */

/** A consumer's environment: none of this test run's own (npm_*, TASKFORGE_*, the SDK switch vitest sets). */
function consumerEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env['PATH'], HOME: process.env['HOME'], ...extra };
}

/** The README's Quick start section: its ```ts blocks and its ```sh blocks, in order. */
async function quickStart(): Promise<{ ts: string[]; sh: string[] }> {
  const readme = await readFile('README.md', 'utf8');
  const section = readme.split('\n## Quick start\n')[1]?.split('\n## ')[0] ?? '';
  const blocks = (language: string) => [...section.matchAll(new RegExp('```' + language + '\\n([\\s\\S]*?)```', 'g'))].map((match) => match[1] ?? '');
  return { ts: blocks('ts'), sh: blocks('sh') };
}

/** npm's `npm warn …` lines, the ones an install prints to say something is off. */
function npmWarnings(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.startsWith('npm warn'));
}

/**
 * The packages npm's install-scripts notice names (npm 11.16 on). That notice is
 * about the consumer's own `allowScripts` policy, which only the consumer can
 * set; README, Install, says what it names.
 */
function unreviewedScripts(warnings: readonly string[]): string[] {
  return warnings.flatMap((line) => /^npm warn install-scripts {3}(\S+) \(/.exec(line)?.[1] ?? []);
}

describe('a consumer installing the packed tarball', () => {
  let work: { path: string; remove: () => Promise<void> };
  let app = '';
  let install: CommandResult;

  beforeAll(async () => {
    // `npm test` built dist/ before the tests; packing runs no script (its `prepare`
    // would rebuild dist/ under the CLI and browser tests running beside this one).
    await access('dist/src/index.js');
    work = await makeTempDir('taskforge-consumer-');
    const packed = await runCommand('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work.path], { cwd: process.cwd(), env: consumerEnv() });
    expect(packed.code, packed.stderr).toBe(0);
    const [{ filename }] = JSON.parse(packed.stdout) as [{ filename: string }];
    app = join(work.path, 'app');
    await mkdir(app);
    await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
    // Without the two optional native packages, which build from source for minutes
    // where no prebuilt binary can be fetched (README, Set up). npm checks the engines
    // of the same tree either way: it never warns about an optional package.
    install = await runCommand('npm', ['install', '--no-audit', '--no-fund', '--omit=optional', join(work.path, filename)], {
      cwd: app,
      env: consumerEnv(),
      timeoutMs: 170_000,
    });
  }, 180_000);

  afterAll(async () => {
    await work.remove();
  });

  it('installs on this Node with no npm warning of ours: no EBADENGINE (every package in the tree accepts this Node), no deprecation', () => {
    expect(install.code, install.stderr).toBe(0);
    const warnings = npmWarnings(install.stderr);
    expect(warnings.filter((line) => !line.startsWith('npm warn install-scripts'))).toEqual([]);
    // A tarball is not a registry package, so npm counts taskforge's `prepare` (which
    // it runs for git and folder installs only) among the scripts to review.
    expect(unreviewedScripts(warnings).filter((name) => !name.startsWith('taskforge@'))).toEqual([]);
  });

  it("runs the README's quick start with plain node: the key from its command, the spec's example, then the read", async () => {
    const { ts, sh } = await quickStart();
    const [example, read] = ts;
    const [exportKey] = sh;
    expect(example).toContain("from 'taskforge'");
    expect(exportKey).toContain('export TASKFORGE_ENCRYPTION_KEY=');
    await writeFile(join(app, 'quick-start.mjs'), `${example ?? ''}\n${read ?? ''}\nconsole.log(JSON.stringify({ status: result.status, read: read.data }));\n`);
    const ran = await runCommand('bash', ['-c', `${exportKey ?? ''}\nnode quick-start.mjs`], { cwd: app, env: consumerEnv() });
    expect(ran.stderr).toBe('');
    expect(JSON.parse(ran.stdout)).toEqual({ status: 'completed', read: { content: 'Hello World' } });
    const stored = await readFile(join(app, 'taskforge-data', 'data', 'file.txt'));
    expect(stored.includes('Hello')).toBe(false);
  });

  it("runs the README's orchestrator example with plain node", async () => {
    const [, , orchestrator] = (await quickStart()).ts;
    expect(orchestrator).toContain("import { Orchestrator } from 'taskforge'");
    await writeFile(join(app, 'orchestrator.mjs'), orchestrator ?? '');
    const ran = await runCommand('node', ['orchestrator.mjs'], { cwd: app, env: consumerEnv() });
    expect(ran.stderr).toBe('');
    expect(ran.stdout).toBe('{ n: 1 }\n');
  });

  it('puts the taskforge command on npx: --help, then a write and a read', async () => {
    const help = await runCommand('npx', ['taskforge', '--help'], { cwd: app, env: consumerEnv() });
    expect(help.stderr).toBe('');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: taskforge [options] [command]');

    const write = await runCommand('npx', ['taskforge', 'write', '/greetings/hello.json', '--compress'], { cwd: app, env: consumerEnv(), input: '{"hello":"world"}\n' });
    expect(write.stderr).toBe('');
    expect(write.code).toBe(0);
    const read = await runCommand('npx', ['taskforge', 'read', '/greetings/hello.json'], { cwd: app, env: consumerEnv() });
    expect(read.stderr).toBe('');
    expect(JSON.parse(read.stdout)).toEqual({ hello: 'world' });
  });

  it('installs none of the optional peers: bullmq, ioredis, the AWS SDK, fastify and prom-client are left to the features that need them', async () => {
    const installed = await Promise.all(
      Object.keys(OPTIONAL_PACKAGES).map(async (name) => {
        try {
          await access(join(app, 'node_modules', name, 'package.json'));
          return name;
        } catch {
          return [];
        }
      }),
    );
    expect(installed.flat()).toEqual([]);
  });

  it('a feature whose package is not installed says which, and the npm command that installs it: S3Backend, OrchestratorMetrics, startServer, the Redis queue, taskforge serve', async () => {
    const script = `
      import * as taskforge from 'taskforge';
      const told = (error) => ({ code: error.code, packages: error.details?.packages, install: error.details?.install });
      const out = {};
      try { new taskforge.S3Backend({ bucket: 'a', clientConfig: { region: 'us-east-1' } }); } catch (error) { out.s3 = told(error); }
      try { new taskforge.OrchestratorMetrics(); } catch (error) { out.metrics = told(error); }
      const orchestrator = new taskforge.Orchestrator();
      await taskforge.startServer({ orchestrator, port: 0 }).catch((error) => { out.server = told(error); });
      await orchestrator.shutdown();
      await new taskforge.Orchestrator({ queue: 'redis://127.0.0.1:1', concurrency: 0 }).ready().catch((error) => { out.redis = told(error); });
      console.log(JSON.stringify(out));
    `;
    const ran = await runCommand('node', ['--input-type=module', '--eval', script], { cwd: app, env: consumerEnv() });
    expect(ran.stderr).toBe('');
    const install = (names: string[]) => `npm install ${names.map((name) => `${name}@${OPTIONAL_PACKAGES[name as keyof typeof OPTIONAL_PACKAGES]}`).join(' ')}`;
    const told = (names: string[]) => ({ code: 'UNSUPPORTED_OPTION', packages: names, install: install(names) });
    expect(JSON.parse(ran.stdout)).toEqual({
      s3: told(['@aws-sdk/client-s3']),
      metrics: told(['prom-client']),
      server: told(['fastify', 'prom-client']),
      redis: told(['bullmq', 'ioredis']),
    });

    const serve = await runCommand('npx', ['taskforge', 'serve', '--port', '0'], { cwd: app, env: consumerEnv() });
    expect(serve.stderr).toContain(`needs the npm packages fastify (not installed), prom-client (not installed): ${install(['fastify', 'prom-client'])}`);
    expect(serve.code).toBe(2);
  });

  it("after the command the S3 error gave, shows the AWS SDK's Node-version notice once, only below Node 22 and only once S3 is used; its own switch silences it (README, Backends)", async () => {
    // What the error above told to run, with this install's flags (no native builds).
    const added = await runCommand('npm', ['install', '--no-audit', '--no-fund', '--omit=optional', '@aws-sdk/client-s3@3.1175.0'], {
      cwd: app,
      env: consumerEnv(),
      timeoutMs: 170_000,
    });
    expect(added.code, added.stderr).toBe(0);
    expect(npmWarnings(added.stderr).filter((line) => !line.startsWith('npm warn install-scripts'))).toEqual([]);
    const script = `
      import { MemoryBackend, S3Backend } from 'taskforge';
      new MemoryBackend();
      console.error('-- S3 from here --');
      new S3Backend({ bucket: 'a', clientConfig: { region: 'us-east-1' } });
      new S3Backend({ bucket: 'b', clientConfig: { region: 'us-east-1' } });
    `;
    const shown = await runCommand('node', ['--input-type=module', '--eval', script], { cwd: app, env: consumerEnv() });
    expect(shown.code, shown.stderr).toBe(0);
    const [beforeS3 = '', afterS3 = ''] = shown.stderr.split('-- S3 from here --\n');
    expect(beforeS3).toBe('');
    const major = Number(process.versions.node.split('.')[0]);
    expect(afterS3.match(/NodeVersionSupportWarning/g)?.length ?? 0).toBe(major < 22 ? 1 : 0);

    const silenced = await runCommand('node', ['--input-type=module', '--eval', script], { cwd: app, env: consumerEnv({ AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' }) });
    expect(silenced.stderr).toBe('-- S3 from here --\n');
  }, 180_000);
});

describe('a consumer installing a checkout folder', () => {
  it('that never had `npm ci`: the install fails and says to run it, not "tsc: not found"', async () => {
    const work = await makeTempDir('taskforge-folder-');
    try {
      // Only what `prepare` reads before it builds: the checkout's package.json and its scripts.
      const checkout = join(work.path, 'taskforge');
      await mkdir(join(checkout, 'scripts'), { recursive: true });
      await writeFile(join(checkout, 'package.json'), await readFile('package.json'));
      await writeFile(join(checkout, 'scripts', 'check-build-tools.mjs'), await readFile('scripts/check-build-tools.mjs'));
      const app = join(work.path, 'app');
      await mkdir(app);
      await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));

      const install = await runCommand('npm', ['install', '--no-audit', '--no-fund', checkout], { cwd: app, env: consumerEnv() });
      expect(install.code).not.toBe(0);
      expect(install.stderr).toContain(`taskforge: building dist/ needs the dev dependencies (typescript), and they are not installed in ${checkout}/.`);
      expect(install.stderr).toContain('Run `npm ci` there first.');
    } finally {
      await work.remove();
    }
  });
});
