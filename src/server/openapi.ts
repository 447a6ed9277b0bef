import { z } from 'zod';
import { storageTaskConfigSchema } from '../tasks/storage-task-config.js';
import { taskConfigSchema } from '../tasks/task-config.js';

/** JSON Schema of a zod schema as requests must send it (what the library validates with; a stream, which JSON cannot carry, is left open). */
function inputSchema(schema: z.ZodType): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete json['$schema'];
  return json;
}

const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', description: 'A stable error code (VALIDATION_ERROR, NOT_FOUND, PATH_OUTSIDE_ROOT, ...).' },
        message: { type: 'string' },
        fields: { type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } } },
      },
    },
  },
};

const taskRowSchema = {
  type: 'object',
  required: ['id', 'type', 'priority', 'status', 'attempts', 'submittedAt'],
  properties: {
    id: { type: 'string' },
    type: { type: 'string' },
    priority: { type: 'integer' },
    status: { type: 'string', enum: ['pending', 'running', 'completed', 'failed'] },
    attempts: { type: 'integer' },
    submittedAt: { type: 'string', format: 'date-time' },
    operation: { type: 'string' },
    path: { type: 'string' },
    retryOf: { type: 'string', description: 'The task this one retries (POST /tasks/{id}/retry)' },
    startedAt: { type: 'string', format: 'date-time' },
    finishedAt: { type: 'string', format: 'date-time' },
    durationMs: { type: 'number' },
    bytesDone: { type: 'integer' },
    bytesTotal: { type: 'integer' },
    error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
  },
};

const configViewSchema = {
  type: 'object',
  description:
    "The config this server took, without its data: a storage task's operation, path and options; of a custom type only options.timeout and options.retries. Every other value is named in omitted (kind and size), never shown.",
  required: ['type'],
  properties: {
    type: { type: 'string' },
    priority: { type: 'number' },
    dependsOn: { type: 'array', items: { type: 'string' } },
    metadata: { type: 'object' },
    omitted: { type: 'array', items: { type: 'object', required: ['field', 'kind'], properties: { field: { type: 'string' }, kind: { enum: ['text', 'bytes', 'json', 'stream'] }, bytes: { type: 'integer' } } } },
  },
};

const taskDetailSchema = {
  allOf: [
    { $ref: '#/components/schemas/TaskRow' },
    {
      type: 'object',
      properties: {
        dependsOn: { type: 'array', items: { type: 'string' } },
        result: { type: 'object', description: 'Once finished: status, success, data (when small JSON), error { code, message, retryable }, attempts, startedAt, finishedAt, durationMs, details' },
        config: { $ref: '#/components/schemas/ConfigView' },
        retriedAs: { type: 'string', description: 'The task that retried this one' },
      },
    },
  ],
};

const endsSchema = {
  type: 'object',
  properties: {
    now: { type: 'string', format: 'date-time', description: "The server's time" },
    since: { type: 'string', format: 'date-time', description: 'When this server began counting' },
    windowSeconds: { type: 'integer' },
    stepSeconds: { type: 'integer' },
    buckets: {
      type: 'array',
      description: 'Oldest first; each step starts at a multiple of the step (since the epoch), the last one is the current, partial step',
      items: { type: 'object', properties: { start: { type: 'string', format: 'date-time' }, completed: { type: 'integer' }, failed: { type: 'integer' } } },
    },
  },
};

const ref = (name: string): { $ref: string } => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: unknown): { content: { 'application/json': { schema: unknown } } } => ({ content: { 'application/json': { schema } } });
const failure = (description: string): Record<string, unknown> => ({ description, ...json(ref('Error')) });
const objectPath = { name: '*', in: 'path', required: true, description: 'The storage path under the root, e.g. reports/2026.csv', schema: { type: 'string' } };
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
const query = (name: string, description: string, schema: unknown = { type: 'string' }): Record<string, unknown> => ({ name, in: 'query', required: false, description, schema });

/** The OpenAPI 3.1 document of the HTTP API; the task schemas come from the zod schemas the library validates with. */
export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'taskforge',
      version: '0.1.0',
      description:
        'Submit, watch and cancel tasks; store, read, list and delete objects. Every request must name this server in its Host (403 HOST_NOT_ALLOWED); a POST, PUT or DELETE with an Origin must come from a page of this server (403 ORIGIN_NOT_ALLOWED); every POST must send Content-Type: application/json (415 UNSUPPORTED_MEDIA_TYPE).',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'TASKFORGE_TOKEN; required whenever the server listens beyond loopback.' } },
      schemas: {
        TaskConfig: inputSchema(taskConfigSchema),
        StorageTaskConfig: inputSchema(storageTaskConfigSchema),
        TaskRow: taskRowSchema,
        TaskDetail: taskDetailSchema,
        ConfigView: configViewSchema,
        Ends: endsSchema,
        Error: errorSchema,
      },
    },
    security: [{ bearer: [] }],
    paths: {
      '/tasks': {
        post: {
          summary: 'Submit one task config or an array of them (at most 1000); all or none',
          requestBody: { required: true, ...json({ oneOf: [ref('StorageTaskConfig'), ref('TaskConfig'), { type: 'array', items: { oneOf: [ref('StorageTaskConfig'), ref('TaskConfig')] } }] }) },
          responses: {
            202: { description: 'Queued', ...json({ type: 'object', properties: { ids: { type: 'array', items: { type: 'string' } } } }) },
            400: failure('A bad config: the fields that are wrong'),
            409: failure('An id already in use'),
            413: failure('LIMIT_EXCEEDED: the body is over the limit, or the request is bigger by itself than the backlog bounds (--max-backlog, --max-backlog-bytes)'),
            415: failure('Not sent as application/json'),
            503: failure("BACKEND_UNAVAILABLE: the queue's server (Redis) cannot be reached now; or BACKLOG_FULL (with Retry-After): the server holds as many tasks that have not ended as it may (--max-backlog, --max-backlog-bytes). Nothing was done"),
          },
        },
        get: {
          summary: 'The tasks this server has seen, newest first',
          parameters: [
            query('status', 'pending, running, completed or failed; comma-separated for several'),
            query('type', 'Only tasks of this type'),
            query('id', 'Only tasks whose id holds this text, in any case (at most 256 characters; empty: no search)'),
            query('limit', 'Page size, 1 to 1000 (default 100)', { type: 'integer' }),
            query('cursor', 'The cursor of the previous page'),
          ],
          responses: { 200: { description: 'A page', ...json({ type: 'object', properties: { tasks: { type: 'array', items: ref('TaskRow') }, cursor: { type: 'string' } } }) }, 400: failure('A bad query parameter') },
        },
      },
      '/tasks/{id}': {
        get: {
          summary: 'One task: its row, its view, its result once it has one, its config without data and its retry lineage when this server submitted it',
          parameters: [idParam],
          responses: { 200: { description: 'The task', ...json(ref('TaskDetail')) }, 404: failure('Unknown id'), 503: failure("BACKEND_UNAVAILABLE: the queue's server (Redis) cannot be reached now; nothing was done") },
        },
      },
      '/tasks/{id}/events': {
        get: {
          summary: "The task's lifecycle events as this server heard them, oldest first, each with when (at) and its fields (never data); a run of progress events is kept as its latest",
          parameters: [idParam],
          responses: {
            200: {
              description: 'kept: false when the server holds no events for a task it knows (it ran before this server listened, or fell out of the log); trimmed: events dropped from the middle of a long log',
              ...json({ type: 'object', properties: { id: { type: 'string' }, events: { type: 'array', items: { type: 'object', required: ['event', 'at'], properties: { event: { type: 'string' }, at: { type: 'string', format: 'date-time' } } } }, kept: { type: 'boolean' }, trimmed: { type: 'integer' } } }),
            },
            404: failure('Unknown id'),
          },
        },
      },
      '/tasks/{id}/retry': {
        post: {
          summary: 'Submit a failed or cancelled task again, as a new task with a new id that names it (retryOf); once per task',
          parameters: [idParam],
          description: 'Content-Type: application/json is required; the body may be empty or {}.',
          requestBody: { required: false, ...json({ type: 'object', additionalProperties: false }) },
          responses: {
            202: { description: 'Queued', ...json({ type: 'object', properties: { id: { type: 'string' }, retryOf: { type: 'string' } } }) },
            400: failure('A body with fields'),
            404: failure('Unknown id'),
            409: failure('INVALID_STATE: not failed; ALREADY_RETRIED: retried before (the message names the retry); CONFIG_NOT_KEPT: this server does not hold its config (submitted elsewhere, streamed through /objects, or let go past keepConfigBytes)'),
            415: failure('Not sent as application/json'),
            503: failure("BACKEND_UNAVAILABLE: the queue's server (Redis) cannot be reached now; or BACKLOG_FULL (with Retry-After): the server holds as many tasks that have not ended as it may. Nothing was done"),
          },
        },
      },
      '/tasks/{id}/cancel': {
        post: {
          summary: 'Cancel a waiting or running task',
          parameters: [idParam],
          description: 'Content-Type: application/json is required even with no body.',
          requestBody: { required: false, ...json({ type: 'object', properties: { reason: { type: 'string', maxLength: 500 } } }) },
          responses: {
            200: { description: 'The task ended (FAILED with CANCELLED, or it had committed)' },
            202: { description: 'Asked; the task has not stopped yet' },
            404: failure('Unknown id'),
            409: failure('Already finished'),
            415: failure('Not sent as application/json'),
            503: failure("BACKEND_UNAVAILABLE: the queue's server (Redis) cannot be reached now; nothing was done"),
          },
        },
      },
      '/stats/ends': {
        get: {
          summary: 'Tasks that ended (completed, failed) per step, as this server heard them; kept for an hour, so a chart opened late shows what ended before',
          parameters: [
            query('window', 'Seconds back from now, 1 to 3600 (default 300)', { type: 'integer' }),
            query('step', 'Seconds per step; must divide the window (default 10)', { type: 'integer' }),
            query('type', 'Only tasks of this type'),
          ],
          responses: { 200: { description: 'The steps', ...json(ref('Ends')) }, 400: failure('A bad query parameter') },
        },
      },
      '/events': { get: { summary: 'Server-Sent Events: every task lifecycle event, live (submit, start, retry, progress, cancel, complete, error)', responses: { 200: { description: 'text/event-stream' } } } },
      '/metrics': { get: { summary: 'Prometheus metrics', responses: { 200: { description: 'text/plain; version=0.0.4' } } } },
      '/healthz': {
        get: {
          summary: 'Health; needs no token',
          security: [],
          responses: {
            200: { description: 'ok', ...json({ type: 'object', properties: { status: { const: 'ok' } } }) },
            503: { description: "The queue's server (Redis) cannot be reached now: tasks cannot be taken", ...json({ type: 'object', properties: { status: { const: 'unavailable' }, queue: { type: 'string' } } }) },
          },
        },
      },
      '/objects/{*}': {
        put: {
          summary: 'Store the request body at the path (atomic, streamed)',
          parameters: [
            objectPath,
            query('compress', 'gzip, brotli, zstd, or true for the default'),
            query('level', 'Compression level', { type: 'integer' }),
            query('encrypt', 'true: encrypt with the active key', { type: 'boolean' }),
            query('overwrite', 'false: fail with 409 when the path exists', { type: 'boolean' }),
            query('timeout', 'Per attempt, ms', { type: 'integer' }),
            query('retries', 'Extra attempts after a transient failure', { type: 'integer' }),
          ],
          requestBody: { required: true, content: { '*/*': { schema: { type: 'string', format: 'binary' } } } },
          responses: { 201: { description: 'Stored: path, size, modifiedAt, version' }, 400: failure('A bad path (PATH_OUTSIDE_ROOT) or option'), 409: failure('Exists (overwrite=false), or a directory'), 413: failure('Larger than the server accepts') },
        },
        get: {
          summary: 'The object (streamed), or with ?list a page of the entries under the path',
          parameters: [
            objectPath,
            query('list', 'List the entries under the path instead'),
            query('recursive', 'list: every level below', { type: 'boolean' }),
            query('limit', 'list: page size', { type: 'integer' }),
            query('cursor', 'list: the cursor of the previous page'),
            query('encrypted', 'read: refuse a plain object', { type: 'boolean' }),
            query('maxBytes', 'read: fail past this many decoded bytes', { type: 'integer' }),
          ],
          responses: { 200: { description: 'The bytes (application/octet-stream), or a page: entries, cursor' }, 400: failure('A bad path or option'), 404: failure('No such object'), 422: failure('Integrity, key or encryption failure') },
        },
        delete: {
          summary: 'Delete the object (or, with recursive=true, the directory)',
          parameters: [objectPath, query('recursive', 'Delete a directory and everything under it', { type: 'boolean' })],
          responses: { 200: { description: 'path, deleted (false when there was nothing)' }, 400: failure('A bad path') },
        },
      },
    },
  };
}
