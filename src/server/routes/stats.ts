import type { FastifyInstance } from 'fastify';
import { badQuery, onlyParams, taskType, wholeNumber } from '../query-params.js';
import type { RouteDeps } from '../served.js';

/** The window and step GET /stats/ends answers with when not asked: 5 minutes in 10 s steps (the dashboard's chart). */
const DEFAULT_WINDOW_SECONDS = 300;
const DEFAULT_STEP_SECONDS = 10;

/**
 * GET /stats/ends?window=&step=&type=: the tasks that ended in the last
 * `window` seconds, as this server heard them, counted per `step` seconds
 * (completed and failed), oldest step first, the last one the current step.
 * Ends are kept for an hour, whoever watched: a chart opened late still
 * shows what ended before it looked.
 */
export function statsRoutes(app: FastifyInstance, deps: RouteDeps): void {
  app.get('/stats/ends', (request, reply) => {
    const query = request.query as Record<string, unknown>;
    onlyParams(query, ['window', 'step', 'type']);
    const keep = deps.history.keepSeconds;
    const windowSeconds = wholeNumber(query['window'], 'window', 1, keep) ?? Math.min(DEFAULT_WINDOW_SECONDS, keep);
    const stepSeconds = wholeNumber(query['step'], 'step', 1, keep) ?? Math.min(DEFAULT_STEP_SECONDS, windowSeconds);
    if (windowSeconds % stepSeconds !== 0) throw badQuery('step', `expected a step that divides the window of ${String(windowSeconds)} s (got ${String(stepSeconds)})`);
    const type = taskType(query['type'], 'type');
    return reply.send(deps.history.window({ windowSeconds, stepSeconds, ...(type === undefined ? {} : { type }) }));
  });
}
