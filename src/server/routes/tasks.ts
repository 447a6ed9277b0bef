import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode, TaskforgeError, isTaskforgeError } from '../../core/errors.js';
import { newTaskId } from '../../core/ids.js';
import { parseOrThrow } from '../../core/validation.js';
import { retainedResult } from '../../orchestrator/retained-result.js';
import { parseStoragePath } from '../../storage/storage-path.js';
import { storageTaskConfigSchema } from '../../tasks/storage-task-config.js';
import { withId, type TaskConfig } from '../../tasks/task-config.js';
import { TaskStatus } from '../../tasks/task-status.js';
import type { KeptConfig } from '../config-store.js';
import { Backlog } from '../backlog.js';
import { errorBody } from '../http-errors.js';
import { badQuery, listParam, onlyParams, optionalString, taskType, wholeNumber } from '../query-params.js';
import type { RouteDeps } from '../served.js';
import { endFields } from '../task-feed.js';

/** The longest id search: as long as an id. */
const MAX_ID_SEARCH = 256;

/** The most tasks one POST /tasks may carry. */
export const MAX_TASKS_PER_REQUEST = 1000;
/** Page size of GET /tasks: default and largest. */
const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;
/** How long POST /tasks/:id/cancel waits for the task to stop before it answers 202. */
const CANCEL_WAIT_MS = 5000;

const STATUSES = new Set<string>(Object.values(TaskStatus));

/** POST /tasks, GET /tasks, GET /tasks/:id, POST /tasks/:id/cancel. */
export function taskRoutes(app: FastifyInstance, deps: RouteDeps): void {
  // A full backlog refuses by the Content-Length, before the body is read (or, with Expect: 100-continue, sent: see
  // expect-continue.ts). Such a client's body is not asked for; any other's is read and dropped, its connection kept.
  const refuseBeforeBody = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    const length = Number(request.headers['content-length']);
    // (Over the body limit it could never be taken: the parser's 413 says so, not a 503 that a client would retry for ever.)
    const refused = Number.isSafeInteger(length) && length > 0 && length <= request.routeOptions.bodyLimit ? deps.backlog.refusalBeforeBody(length) : undefined;
    return refused === undefined ? undefined : Backlog.reply(reply, refused);
  };
  app.post('/tasks', { onRequest: refuseBeforeBody }, async (request, reply) => {
    const many = Array.isArray(request.body);
    const configs = readConfigs(request.body);
    // (A chunked body has no length: its JSON's, near enough.)
    const bytes = Number(request.headers['content-length'] ?? 0) || Buffer.byteLength(JSON.stringify(request.body));
    const refused = deps.backlog.refusal(configs.length, bytes);
    if (refused !== undefined) return Backlog.reply(reply, refused);
    const counted = deps.backlog.take(configs.map((config) => config.id), bytes);
    // One config goes through submit(), so that its errors name its fields from the root, not as `[0].`.
    const [first] = configs;
    let handles: readonly { readonly id: string }[];
    const unexpect = deps.feed.expectSubmits(configs.flatMap((config) => (typeof config.id === 'string' ? [config.id] : [])));
    try {
      handles = many || first === undefined ? await deps.orchestrator.submitAll(configs) : [await deps.orchestrator.submit(first)];
    } catch (error) {
      unexpect();
      deps.backlog.release(counted);
      throw error;
    }
    // Kept once accepted (a refused one, say a duplicate id, must not replace the config of the task that has it): its detail shows it, a retry takes it.
    for (const config of configs) deps.configs.keep(config);
    return reply.code(202).send({ ids: handles.map((handle) => handle.id) });
  });

  app.get('/tasks', (request, reply) => {
    const query = request.query as Record<string, unknown>;
    onlyParams(query, ['status', 'type', 'id', 'limit', 'cursor']);
    const statuses = listParam(query['status']).map((status) => {
      if (!STATUSES.has(status)) throw badQuery('status', `expected pending, running, completed or failed, comma-separated (got ${JSON.stringify(status)})`);
      return status as TaskStatus;
    });
    const type = taskType(query['type'], 'type');
    const id = optionalString(query['id'], 'id');
    if (id !== undefined && id.length > MAX_ID_SEARCH) throw badQuery('id', `expected at most ${String(MAX_ID_SEARCH)} characters (got ${String(id.length)})`);
    const limit = wholeNumber(query['limit'], 'limit', 1, MAX_PAGE) ?? DEFAULT_PAGE;
    const cursor = optionalString(query['cursor'], 'cursor');
    if (cursor !== undefined && !/^\d+$/.test(cursor)) throw badQuery('cursor', 'expected the cursor of an earlier page');
    // An empty search (a cleared search box) is no search.
    const idContains = id === '' ? undefined : id;
    return reply.send(deps.table.list({ statuses, ...(type === undefined ? {} : { type }), ...(idContains === undefined ? {} : { idContains }), limit, ...(cursor === undefined ? {} : { cursor }) }));
  });

  app.get('/tasks/:id', async (request, reply) => {
    const { id } = request.params as { id: string };
    const view = await deps.orchestrator.get(id);
    const row = deps.table.get(id);
    if (view === undefined && row === undefined) return reply.code(404).send(errorBody(ErrorCode.NOT_FOUND, `no task with id '${id}' is known`));
    // A result's data is sent when it is small JSON (a write's or a list's), not a read's bytes.
    const task = view === undefined ? undefined : { ...view, ...(view.result === undefined ? {} : { result: retainedResult(view.result) }) };
    // Its end as the queue recorded it: this server's row may not have heard it yet (a worker's end comes through the queue's events).
    const ended = view?.result === undefined ? {} : endFields(view.result);
    // A running task's retries within its run are heard here as events; the queue counts only the attempt under way.
    const attempts = view !== undefined && view.result === undefined && row !== undefined ? { attempts: Math.max(row.attempts, view.attempts) } : {};
    // The config without its data, and the retry lineage, when this server submitted the task.
    return { ...row, ...ended, ...task, ...attempts, ...deps.configs.facts(id) };
  });

  app.post('/tasks/:id/cancel', async (request, reply) => {
    const { id } = request.params as { id: string };
    const body = request.body as { reason?: unknown } | undefined;
    const reason = body?.reason;
    if (reason !== undefined && (typeof reason !== 'string' || reason.length > 500)) throw badBody('reason', 'expected text of at most 500 characters');
    const ending = deps.orchestrator.cancel(id, reason);
    const ended = await Promise.race([ending, new Promise<undefined>((resolve) => setTimeout(() => { resolve(undefined); }, CANCEL_WAIT_MS).unref())]);
    if (ended === undefined) {
      ending.catch(() => undefined);
      return reply.code(202).send({ id, status: 'cancelling' });
    }
    return { id, status: ended.status, ...(ended.error === undefined ? {} : { error: { code: ended.error.code, message: ended.error.message } }) };
  });
}

/** The body of POST /tasks: one config or an array of them; each gets an id when it has none; storage configs are checked whole here. */
function readConfigs(body: unknown): KeptConfig[] {
  const many = Array.isArray(body);
  const list: unknown[] = many ? body : [body];
  if (list.length === 0) throw badBody('', 'expected a task config or a non-empty array of them');
  if (list.length > MAX_TASKS_PER_REQUEST) throw badBody('', `expected at most ${String(MAX_TASKS_PER_REQUEST)} tasks per request (got ${String(list.length)})`);
  return list.map((item, index) => {
    const where = many ? `[${String(index)}]` : '';
    if (item === null || typeof item !== 'object' || Array.isArray(item)) throw badBody(where, 'expected a task config (an object with a type)');
    const given = item as TaskConfig;
    const config: KeptConfig = given.id === undefined ? withId(given, newTaskId()) : (given as KeptConfig);
    if (config.type === 'storage') {
      try {
        const valid = parseOrThrow(storageTaskConfigSchema, config, `storage task${where === '' ? '' : ` ${where}`}`);
        // A path that leaves the root is refused now, not as a failed task later, naming the item and field.
        checkPath(valid.metadata.path, where);
        // A file is the server's: a client naming one would store, and read back, whatever the server can read.
        if (valid.metadata.file !== undefined) {
          throw badBody('metadata.file', "a write's data comes in the request over this API, not from a file on the server: give it as metadata.data, or PUT /objects/PATH");
        }
        // A stream could never reach the client (results come back as JSON) and would hold its file open.
        if (valid.metadata.operation === 'read' && valid.metadata.options?.as === 'stream') {
          throw badBody('metadata.options.as', "a task's result cannot stream over this API: read the object with GET /objects/PATH, or read as 'buffer', 'text' or 'json'");
        }
      } catch (error) {
        throw where === '' || !isTaskforgeError(error) ? error : prefixed(error, where);
      }
    }
    return config;
  });
}

/** PATH_OUTSIDE_ROOT (or the reserved names' VALIDATION_ERROR) for a path the task would refuse, with the field and the batch item named. */
function checkPath(path: string, where: string): void {
  try {
    parseStoragePath(path);
  } catch (error) {
    if (!isTaskforgeError(error)) throw error;
    const message = `storage task${where === '' ? '' : ` ${where}`}: ${error.message}`;
    throw new TaskforgeError(error.code, message, { details: { ...error.details, fields: [{ field: 'metadata.path', message: error.message }] } });
  }
}

/** The same VALIDATION_ERROR with its fields named from the request body's root: `[2].metadata.path`. */
function prefixed(error: TaskforgeError, where: string): TaskforgeError {
  const fields = (error.details?.['fields'] as { field: string }[] | undefined)?.map((problem) => ({ ...problem, field: `${where}.${problem.field}` }));
  return new TaskforgeError(error.code, error.message, { details: { ...error.details, fields } });
}

export function badBody(field: string, message: string): TaskforgeError {
  const name = field === '' ? 'body' : field;
  return new TaskforgeError(ErrorCode.VALIDATION_ERROR, `request body${field === '' ? '' : ` ${field}`}: ${message}`, { details: { fields: [{ field: name, message }] } });
}
