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
  '@aws-sdk/lib-storage': '3.1175.0',
  bullmq: '6.7.0',
  ioredis: '5.9.2',
  fastify: '5.12.8',
  'prom-client': '15.1.3',
} as const;

/** The name of one of {@link OPTIONAL_PACKAGES}. */
export type OptionalPackage = keyof typeof OPTIONAL_PACKAGES;

const MODULE_NOT_FOUND_CODES: ReadonlySet<unknown> = new Set(['MODULE_NOT_FOUND', 'ERR_MODULE_NOT_FOUND']);

/**
 * The error of a feature whose package cannot be loaded: UNSUPPORTED_OPTION
 * (as for the other optional packages, zstd-napi and better-sqlite3), naming
 * the package and the command that installs it, with `details.packages`.
 */
export function missingPackage(feature: string, name: OptionalPackage, cause: unknown): TaskforgeError {
  const install = `npm install ${name}@${OPTIONAL_PACKAGES[name]}`;
  // Not found is about this package only when the message names it (not one of its own dependencies).
  const notInstalled = cause instanceof Error && MODULE_NOT_FOUND_CODES.has((cause as NodeJS.ErrnoException).code) && cause.message.includes(`'${name}'`);
  const why = notInstalled ? 'which is not installed' : `which could not be loaded (${cause instanceof Error ? cause.message : String(cause)})`;
  return new TaskforgeError(ErrorCode.UNSUPPORTED_OPTION, `${feature} needs the npm package ${name}, ${why}: ${install}`, {
    cause,
    retryable: false,
    details: { packages: [name], install },
  });
}

/** Loads a CommonJS package synchronously (a constructor needs it at once); else the coded error. Its exports, for the caller to type. */
export function requireOptional(feature: string, name: OptionalPackage): unknown {
  try {
    return createRequire(import.meta.url)(name);
  } catch (error) {
    throw missingPackage(feature, name, error);
  }
}

/** Runs `load` (an `import()` of the named package); its failure becomes the coded error. */
export async function importOptional<T>(feature: string, name: OptionalPackage, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    throw missingPackage(feature, name, error);
  }
}
