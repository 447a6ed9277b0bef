import { pino } from 'pino';

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
  defaultLogger = pino({ name: 'taskforge', level: problem === undefined && wanted !== undefined ? wanted.trim().toLowerCase() : 'silent' }, pino.destination(2));
  return defaultLogger;
}

/** Why `level` (TASKFORGE_LOG_LEVEL) is not a level pino knows, or undefined when it is one (or unset). */
export function logLevelProblem(level: string | undefined): string | undefined {
  if (level === undefined) return undefined;
  const known = [...Object.keys(pino.levels.values), 'silent'];
  if (known.includes(level.trim().toLowerCase())) return undefined;
  return `TASKFORGE_LOG_LEVEL: expected one of ${known.join(', ')} (got ${JSON.stringify(level)})`;
}
