import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The TypeScript loader, by absolute URL, so children can run .ts from any working directory. */
const TSX_LOADER = pathToFileURL(join(process.cwd(), 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;

/** The absolute URL of a module of this repository, for imports in child scripts. */
export function repoModule(relativePath: string): string {
  return pathToFileURL(join(process.cwd(), relativePath)).href;
}

/** Runs a TypeScript module script in a child Node process and waits for it. */
export function runScript(script: string, options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, ['--import', TSX_LOADER, '--input-type=module', '--eval', script], {
    encoding: 'utf8',
    cwd: options.cwd ?? process.cwd(),
    env: options.env ?? process.env,
    // spawnSync blocks the test runner's own timers: a hung child must end itself.
    timeout: 60_000,
  });
}

/** Starts a TypeScript file in a child Node process, with piped output. */
export function startScriptFile(file: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  return spawn(process.execPath, ['--import', TSX_LOADER, join(process.cwd(), file), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
}
