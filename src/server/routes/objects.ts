import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode, TaskforgeError } from '../../core/errors.js';
import { MAX_LIST_LIMIT } from '../../tasks/storage-task-config.js';
import type { StorageMetadata, StorageOptions } from '../../tasks/storage-task-config.js';
import type { TaskResult } from '../../tasks/task-result.js';
import { CONTINUE_IN_HANDLER, sendContinue } from '../expect-continue.js';
import { httpError } from '../http-errors.js';
import { runLocalStorageTask } from '../local-storage-task.js';
import type { RouteDeps } from '../served.js';
import { badQuery, flag, onlyParams, optionalString, wholeNumber } from '../query-params.js';

const COMPRESSIONS = new Set(['gzip', 'brotli', 'zstd']);

/**
 * The storage routes, streaming both ways: PUT /objects/PATH (the body is
 * the object; atomic), GET /objects/PATH (the object), GET
 * /objects/PATH?list (a page of entries), DELETE /objects/PATH. Paths obey
 * the backend's root: `..` and the like are 400 PATH_OUTSIDE_ROOT, and
 * nothing outside is touched.
 */
export async function objectRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  // Awaited, so that a fault in this scope fails startServer() instead of being lost.
  await app.register((scope, _options, done) => {
    // The body reaches the route as the request stream itself, whatever its type: it is stored as it comes.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, payload, parsed) => {
      parsed(null, payload);
    });

    scope.put('/objects/*', { config: CONTINUE_IN_HANDLER }, async (request, reply) => {
      const path = pathOf(request);
      const query = request.query as Record<string, unknown>;
      onlyParams(query, ['compress', 'level', 'encrypt', 'overwrite', ...ATTEMPT_PARAMS]);
      const declared = Number(request.headers['content-length'] ?? Number.NaN);
      if (declared > deps.maxObjectBytes) throw tooLarge(deps.maxObjectBytes);
      // Every option is checked before the body is touched.
      const options: StorageOptions = {
        ...compressionOf(query),
        ...(flag(query['encrypt'], 'encrypt') ? { encryption: true } : {}),
        ...(query['overwrite'] === undefined ? {} : { overwrite: flag(query['overwrite'], 'overwrite') }),
        ...attemptOptions(query),
      };
      sendContinue(request, reply);
      const body = (request.body ?? request.raw) as Readable;
      const data = body.pipe(limited(deps.maxObjectBytes));
      body.once('error', (error) => data.destroy(error));
      const result = await run(deps, reply, { operation: 'write', path, data, options });
      return answer(reply, result, 201);
    });
    done();
  });

  app.get('/objects/*', async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const path = pathOf(request, query['list'] !== undefined);
    if (query['list'] !== undefined) {
      onlyParams(query, ['list', 'recursive', 'limit', 'cursor', ...ATTEMPT_PARAMS]);
      const limit = wholeNumber(query['limit'], 'limit', 1, MAX_LIST_LIMIT);
      const cursor = optionalString(query['cursor'], 'cursor');
      const options: StorageOptions = {
        ...(query['recursive'] === undefined ? {} : { recursive: flag(query['recursive'], 'recursive') }),
        ...(limit === undefined ? {} : { limit }),
        ...(cursor === undefined ? {} : { cursor }),
        ...attemptOptions(query),
      };
      return answer(reply, await run(deps, reply, { operation: 'list', path, options }), 200);
    }
    onlyParams(query, ['encrypted', 'maxBytes', ...ATTEMPT_PARAMS]);
    const maxBytes = wholeNumber(query['maxBytes'], 'maxBytes', 1, Number.MAX_SAFE_INTEGER);
    const options: StorageOptions = {
      as: 'stream',
      ...(flag(query['encrypted'], 'encrypted') ? { encryption: true } : {}),
      ...(maxBytes === undefined ? {} : { maxBytes }),
      ...attemptOptions(query),
    };
    const result = await run(deps, reply, { operation: 'read', path, options });
    if (!result.success) return answer(reply, result, 200);
    return reply.header('content-type', 'application/octet-stream').send(result.data);
  });

  app.delete('/objects/*', async (request, reply) => {
    const path = pathOf(request);
    const query = request.query as Record<string, unknown>;
    onlyParams(query, ['recursive', ...ATTEMPT_PARAMS]);
    const options: StorageOptions = {
      ...(query['recursive'] === undefined ? {} : { recursive: flag(query['recursive'], 'recursive') }),
      ...attemptOptions(query),
    };
    return answer(reply, await run(deps, reply, { operation: 'delete', path, options }), 200);
  });
}

function run(deps: RouteDeps, reply: FastifyReply, metadata: StorageMetadata): Promise<TaskResult> {
  const gone = new AbortController();
  // The response closes before it has finished only when the client went away.
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) gone.abort();
  });
  return runLocalStorageTask(deps, metadata, gone.signal);
}

/** The storage path of an object route: `/objects/a/b.txt` → `/a/b.txt`; `/objects/` is the root, which only a listing may name. */
function pathOf(request: FastifyRequest, rootAllowed = false): string {
  const rest = (request.params as { '*'?: string })['*'] ?? '';
  if (rest === '' && !rootAllowed) throw badQuery('path', 'expected an object path after /objects/');
  return `/${rest}`;
}

/** A task's end as the reply: its data as JSON, or its error with the status its code maps to. */
function answer(reply: FastifyReply, result: TaskResult, status: number): FastifyReply {
  if (result.error !== undefined) {
    const { status: errorStatus, body } = httpError(result.error);
    return reply.code(errorStatus).send(body);
  }
  return reply.code(status).send(result.data ?? {});
}

function compressionOf(query: Record<string, unknown>): StorageOptions {
  const compress = optionalString(query['compress'], 'compress');
  const level = wholeNumber(query['level'], 'level', 0, 22);
  if (compress === undefined) {
    if (level !== undefined) throw badQuery('level', 'goes with compress=gzip|brotli|zstd');
    return {};
  }
  if (compress === 'true' || compress === '') return { compression: true };
  if (!COMPRESSIONS.has(compress)) throw badQuery('compress', `expected gzip, brotli or zstd (got ${JSON.stringify(compress)})`);
  return { compression: { algorithm: compress as 'gzip' | 'brotli' | 'zstd', ...(level === undefined ? {} : { level }) } };
}

/** The parameters every object route takes: an attempt's timeout and retries. */
const ATTEMPT_PARAMS = ['timeout', 'retries'] as const;

function attemptOptions(query: Record<string, unknown>): StorageOptions {
  const timeout = wholeNumber(query['timeout'], 'timeout', 1, 86_400_000);
  const retries = wholeNumber(query['retries'], 'retries', 0, 10);
  return { ...(timeout === undefined ? {} : { timeout }), ...(retries === undefined ? {} : { retries }) };
}

function tooLarge(max: number): TaskforgeError {
  return new TaskforgeError(ErrorCode.LIMIT_EXCEEDED, `the object is larger than this server accepts (${String(max)} bytes)`, { details: { maxObjectBytes: max } });
}

/** Passes bytes through until more than `max` have come, then fails the stream (the write then stores nothing). */
function limited(max: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (seen > max) callback(tooLarge(max));
      else callback(null, chunk);
    },
  });
}
