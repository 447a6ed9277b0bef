import { createRequire } from 'node:module';
import { ErrorCode, TaskforgeError } from './errors.js';

/**
 * The npm packages taskforge loads only when a feature needs them, at the
 * versions it is tested with: package.json declares them as optional peer
 * dependencies at these versions (a test keeps the two equal), so installing
 * taskforge for in-process work installs none of them.
 */
export const OPTIONAL_PACKAGES = {
  '@aws-sdk/client-s3': '3.1175.0',
  bullmq: '6.7.0',
  ioredis: '5.9.2',
  fastify: '5.12.8',
  'prom-client': '15.1.3',
} as const;

/** The name of one of {@link OPTIONAL_PACKAGES}. */
export type OptionalPackage = keyof typeof OPTIONAL_PACKAGES;

type Loaders = Readonly<Partial<Record<OptionalPackage, () => Promise<unknown>>>>;
type Loaded<L extends Loaders> = { -readonly [K in keyof L]-?: L[K] extends (() => Promise<infer T>) | undefined ? T : never };

const MODULE_NOT_FOUND_CODES: ReadonlySet<unknown> = new Set(['MODULE_NOT_FOUND', 'ERR_MODULE_NOT_FOUND']);

/**
 * The error of a feature whose packages cannot be loaded: UNSUPPORTED_OPTION
 * (as for the other optional packages, zstd-napi and better-sqlite3), naming
 * every package missing and the one command that installs them all, which
 * `details.install` also holds.
 */
export function missingPackages(feature: string, failures: ReadonlyMap<OptionalPackage, unknown>): TaskforgeError {
  const packages = [...failures.keys()];
  const install = `npm install ${packages.map((name) => `${name}@${OPTIONAL_PACKAGES[name]}`).join(' ')}`;
  const named = [...failures].map(([name, cause]) => `${name} (${notInstalled(name, cause) ? 'not installed' : `could not be loaded: ${cause instanceof Error ? cause.message : String(cause)}`})`);
  const [first] = failures.values();
  return new TaskforgeError(ErrorCode.UNSUPPORTED_OPTION, `${feature} needs the npm package${packages.length === 1 ? '' : 's'} ${named.join(', ')}: ${install}`, {
    cause: first,
    retryable: false,
    details: { packages, install },
  });
}

/**
 * Loads CommonJS packages synchronously (a constructor needs them at once):
 * their exports by name, for the caller to type; else the coded error naming
 * every one that failed.
 */
export function requireOptional(feature: string, names: readonly OptionalPackage[]): Readonly<Partial<Record<OptionalPackage, unknown>>> {
  const require = createRequire(import.meta.url);
  const loaded: Partial<Record<OptionalPackage, unknown>> = {};
  const failures = new Map<OptionalPackage, unknown>();
  for (const name of names) {
    try {
      loaded[name] = require(name);
    } catch (error) {
      failures.set(name, error);
    }
  }
  if (failures.size > 0) throw missingPackages(feature, failures);
  return loaded;
}

/** Runs each loader (an `import()` of the package it is named after): their modules by name, else the coded error naming every one that failed. */
export async function importOptional<L extends Loaders>(feature: string, loaders: L): Promise<Loaded<L>> {
  const entries = Object.entries(loaders) as [OptionalPackage, () => Promise<unknown>][];
  const settled = await Promise.allSettled(entries.map(([, load]) => load()));
  const loaded: Record<string, unknown> = {};
  const failures = new Map<OptionalPackage, unknown>();
  settled.forEach((outcome, index) => {
    const [name] = entries[index] ?? [];
    if (name === undefined) return;
    if (outcome.status === 'fulfilled') loaded[name] = outcome.value;
    else failures.set(name, outcome.reason);
  });
  if (failures.size > 0) throw missingPackages(feature, failures);
  return loaded as Loaded<L>;
}

/** Not found is about this package only when the message names it, not one of its own dependencies. */
function notInstalled(name: OptionalPackage, cause: unknown): boolean {
  return cause instanceof Error && MODULE_NOT_FOUND_CODES.has((cause as NodeJS.ErrnoException).code) && cause.message.includes(`'${name}'`);
}
