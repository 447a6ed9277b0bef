import type { FastifyInstance } from 'fastify';
import { ErrorCode } from '../../core/errors.js';
import { errorBody } from '../http-errors.js';
import type { RouteDeps } from '../served.js';

/**
 * GET /tasks/:id/events: the task's lifecycle events as this server heard
 * them, oldest first, each with when it came (`at`) and its fields (never
 * data). `kept: false` for a task the server knows of but holds no events
 * for (it ran before this server listened, or fell out of the log);
 * `trimmed` counts events dropped from the middle of a long log.
 */
export function taskLogRoutes(app: FastifyInstance, deps: RouteDeps): void {
  app.get('/tasks/:id/events', async (request, reply) => {
    const { id } = request.params as { id: string };
    const logged = deps.eventLog.of(id);
    if (logged === undefined && deps.table.get(id) === undefined && (await deps.orchestrator.get(id)) === undefined) {
      return reply.code(404).send(errorBody(ErrorCode.NOT_FOUND, `no task with id '${id}' is known`));
    }
    return { id, events: logged?.events ?? [], kept: logged !== undefined, trimmed: logged?.trimmed ?? 0 };
  });
}
