import type { FastifyInstance, FastifyReply } from 'fastify';
import { ErrorCode } from '../../core/errors.js';
import { newTaskId } from '../../core/ids.js';
import type { RetryRefusal } from '../config-store.js';
import { Backlog } from '../backlog.js';
import { errorBody, ServerErrorCode } from '../http-errors.js';
import type { RouteDeps } from '../served.js';
import { badBody } from './tasks.js';

/**
 * POST /tasks/:id/retry: submits a failed (or cancelled) task's config
 * again as a new task, with a new id; the new task's row and view name
 * the one it retries (`retryOf`), the original's its retry (`retriedAs`).
 * A task is retried once: retry the retry if it failed too. Only a task
 * whose config this server holds can be retried (it took it through POST
 * /tasks, and has not let it go).
 */
export function taskRetryRoutes(app: FastifyInstance, deps: RouteDeps): void {
  app.post('/tasks/:id/retry', async (request, reply) => {
    const { id } = request.params as { id: string };
    assertNoFields(request.body);
    const view = await deps.orchestrator.get(id);
    const status = view?.status ?? deps.table.get(id)?.status;
    if (status === undefined) return reply.code(404).send(errorBody(ErrorCode.NOT_FOUND, `no task with id '${id}' is known`));
    if (status !== 'failed') return reply.code(409).send(errorBody(ErrorCode.INVALID_STATE, `task '${id}' is ${status}: only a failed or cancelled task can be retried`));
    const retryId = newTaskId();
    const claimed = deps.configs.claim(id, retryId);
    if (!('config' in claimed)) return refuse(reply, id, claimed);
    const config = { ...claimed.config, id: retryId };
    // The retry's data is the config kept, not this request's: counted by its size as JSON. Refused, the task may be retried later.
    const bytes = Buffer.byteLength(JSON.stringify(config));
    const refused = deps.backlog.refusal(1, bytes);
    if (refused !== undefined) {
      deps.configs.release(id, retryId);
      return Backlog.reply(reply, refused);
    }
    deps.configs.keep(config, id);
    const unexpect = deps.feed.expectRetry(retryId, id);
    const counted = deps.backlog.take([retryId], bytes);
    try {
      await deps.orchestrator.submit(config);
    } catch (error) {
      // Refused (the orchestrator shut down, a dependency is no longer known): the original may be retried later.
      deps.backlog.release(counted);
      unexpect();
      deps.configs.forget(retryId);
      deps.configs.release(id, retryId);
      throw error;
    }
    deps.configs.retried(id);
    return reply.code(202).send({ id: retryId, retryOf: id });
  });
}

function refuse(reply: FastifyReply, id: string, refusal: RetryRefusal): FastifyReply {
  if (refusal.reason === 'retried') {
    return reply.code(409).send(errorBody(ServerErrorCode.ALREADY_RETRIED, `task '${id}' was already retried as '${refusal.retriedAs}': retry that one if it failed too`));
  }
  const why = {
    'not-taken': 'this server did not take its config (it was submitted by another client, or before this server started)',
    streamed: 'its bytes went through a request to /objects, which is over: send that request again',
    'let-go': `its config was let go to keep this server's configs within ${String(refusal.maxBytes)} bytes (keepConfigBytes)`,
  }[refusal.reason];
  const again = refusal.reason === 'streamed' ? '' : '; submit it again';
  return reply.code(409).send(errorBody(ServerErrorCode.CONFIG_NOT_KEPT, `task '${id}' cannot be retried here: ${why}${again}`));
}

/** The body may be absent or `{}`: a retry is the same config again, nothing to change. */
function assertNoFields(body: unknown): void {
  if (body === undefined || body === null) return;
  if (typeof body !== 'object' || Array.isArray(body)) throw badBody('', 'a retry takes no body, or {}');
  const fields = Object.keys(body);
  if (fields.length > 0) throw badBody('', `a retry takes no fields (got ${fields.join(', ')})`);
}
