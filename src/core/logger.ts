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
  defaultLogger ??= pino(
    { name: 'taskforge', level: process.env['TASKFORGE_LOG_LEVEL'] ?? 'silent' },
    pino.destination(2),
  );
  return defaultLogger;
}
