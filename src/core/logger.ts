import { createRequire } from 'node:module';
import type * as Pino from 'pino';

/** pino's level names, least severe first: what TASKFORGE_LOG_LEVEL takes, with 'silent'. */
const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

/** Logs nothing: the default, which needs no logging library loaded (pino costs about 30 ms of every start). */
const SILENT: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** A log call: structured fields first, then the message (pino's order). */
export type LogFn = (fields: Record<string, unknown>, message: string) => void;

/**
 * What taskforge logs through. A pino logger satisfies it, and so does any
 * object with these four methods. Fields never hold data payloads or keys.
 */
export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

let defaultLogger: Logger | undefined;

/**
 * Whether `logger` writes debug lines: asked before building a debug line's
 * fields, which cost an object per call even when nothing is written. A
 * logger that cannot say (no `isLevelEnabled`, as pino has) is taken to write them.
 */
export function logsDebug(logger: Logger): boolean {
  if (logger === SILENT) return false;
  const { isLevelEnabled } = logger as { isLevelEnabled?: (level: string) => boolean };
  return typeof isLevelEnabled !== 'function' || isLevelEnabled.call(logger, 'debug');
}

/**
 * The logger tasks use when none is given: pino writing JSON lines to stderr
 * at the level of `TASKFORGE_LOG_LEVEL`, silent when it is unset, so that a
 * library does not write to a host program's stderr uninvited.
 */
export function getDefaultLogger(): Logger {
  if (defaultLogger !== undefined) return defaultLogger;
  const wanted = process.env['TASKFORGE_LOG_LEVEL'];
  const problem = logLevelProblem(wanted);
  // A constructor must not throw for a bad variable: the logger stays silent and the process is told once.
  if (problem !== undefined) process.emitWarning(`${problem}; logging stays off`, 'TaskforgeWarning');
  const level = problem === undefined && wanted !== undefined ? wanted.trim().toLowerCase() : 'silent';
  defaultLogger = level === 'silent' ? SILENT : loadPino(level);
  return defaultLogger;
}

/** Why `level` (TASKFORGE_LOG_LEVEL) is not a level pino knows, or undefined when it is one (or unset). */
export function logLevelProblem(level: string | undefined): string | undefined {
  if (level === undefined) return undefined;
  const known: readonly string[] = [...LEVELS, 'silent'];
  if (known.includes(level.trim().toLowerCase())) return undefined;
  return `TASKFORGE_LOG_LEVEL: expected one of ${known.join(', ')} (got ${JSON.stringify(level)})`;
}

/** A pino logger at `level`, writing to stderr. pino is CommonJS, so it loads synchronously here, only when logging is on. */
function loadPino(level: string): Logger {
  const { pino } = createRequire(import.meta.url)('pino') as typeof Pino;
  return pino({ name: 'taskforge', level }, pino.destination(2));
}
