import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { OPTIONAL_PACKAGES } from '../src/core/optional-package.js';
import { BIN, cleanEnv } from './helpers/bin.js';
import { repoModule, runScript } from './helpers/child.js';

/**
 * A process in which the named packages are not installed, as in a project
 * that installed taskforge alone: a module hook resolves them from a folder
 * with no node_modules, so Node's own resolver fails with its own error
 * (ERR_MODULE_NOT_FOUND). It reaches what is loaded by import(): the Redis
 * queue's packages and the server's. What is loaded by require (the AWS SDK,
 * prom-client for OrchestratorMetrics) is checked for real in
 * package-install.test.ts, in a project where they are not installed.
 */
function hiding(names: readonly string[]): string {
  const hook = `
    const hidden = new Set(${JSON.stringify(names)});
    export async function resolve(specifier, context, next) {
      if (hidden.has(specifier)) return next(specifier, { ...context, parentURL: 'file:///nonexistent/app.js' });
      return next(specifier, context);
    }`;
  return `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)});`;
}

/** Runs `script` with `names` missing and returns what it printed as JSON. */
function withoutPackages(names: readonly string[], script: string): unknown {
  const child = runScript(`${hiding(names)}\nconst taskforge = await import('${repoModule('src/index.ts')}');\n${script}`);
  expect(child.stderr).toBe('');
  return JSON.parse(child.stdout);
}

const describeError = `(error) => console.log(JSON.stringify({ code: error.code, retryable: error.retryable, message: error.message, details: error.details }))`;

describe('a feature whose optional package is not installed', () => {
  it('the versions named in errors are the ones package.json declares as optional peers, and the tests run on', async () => {
    const manifest = JSON.parse(await readFile('package.json', 'utf8')) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
      peerDependencies: Record<string, string>;
      peerDependenciesMeta: Record<string, { optional?: boolean }>;
    };
    expect(manifest.peerDependencies).toEqual(OPTIONAL_PACKAGES);
    for (const [name, version] of Object.entries(OPTIONAL_PACKAGES)) {
      expect(manifest.peerDependenciesMeta[name]).toEqual({ optional: true });
      expect(manifest.devDependencies[name]).toBe(version);
      expect(manifest.dependencies[name]).toBeUndefined();
    }
  });

  it('startServer: UNSUPPORTED_OPTION naming fastify and prom-client, with the command that installs them', () => {
    const printed = withoutPackages(
      ['fastify', 'prom-client'],
      `await taskforge.startServer({ orchestrator: new taskforge.Orchestrator(), port: 0 }).then(() => console.log('{}'), ${describeError});`,
    );
    expect(printed).toEqual({
      code: 'UNSUPPORTED_OPTION',
      retryable: false,
      message: 'the HTTP server (startServer, taskforge serve) needs the npm packages fastify (not installed), prom-client (not installed): npm install fastify@5.12.8 prom-client@15.1.3',
      details: { packages: ['fastify', 'prom-client'], install: 'npm install fastify@5.12.8 prom-client@15.1.3' },
    });
  });

  it('names only what is missing: fastify alone', () => {
    const printed = withoutPackages(['fastify'], `await taskforge.startServer({ orchestrator: new taskforge.Orchestrator(), port: 0 }).then(() => console.log('{}'), ${describeError});`);
    expect(printed).toMatchObject({ code: 'UNSUPPORTED_OPTION', details: { packages: ['fastify'], install: 'npm install fastify@5.12.8' } });
  });

  it('the Redis queue: UNSUPPORTED_OPTION naming bullmq and ioredis, before any connection is tried, and not retryable', () => {
    const printed = withoutPackages(['bullmq', 'ioredis'], `await new taskforge.Orchestrator({ queue: 'redis://127.0.0.1:1', concurrency: 0 }).ready().then(() => console.log('{}'), ${describeError});`);
    expect(printed).toEqual({
      code: 'UNSUPPORTED_OPTION',
      retryable: false,
      message: 'the Redis queue needs the npm packages bullmq (not installed), ioredis (not installed): npm install bullmq@6.7.0 ioredis@5.9.2',
      details: { packages: ['bullmq', 'ioredis'], install: 'npm install bullmq@6.7.0 ioredis@5.9.2' },
    });
  });

  it('taskforge serve exits 2 with that message, having started nothing', () => {
    const ran = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(hiding(['fastify']))}`, BIN, 'serve', '--port', '0'], {
      encoding: 'utf8',
      env: cleanEnv(),
      timeout: 60_000,
    });
    expect(ran.stderr).toContain('needs the npm package fastify (not installed): npm install fastify@5.12.8');
    expect(ran.stderr).not.toContain('taskforge serve: http');
    expect(ran.status).toBe(2);
  });
});
