import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import { ErrorCode, isTaskforgeError } from '../core/errors.js';
import { getDefaultLogger, type Logger } from '../core/logger.js';
import { OrchestratorMetrics } from '../orchestrator/metrics.js';
import type { OrchestratorEvents } from '../orchestrator/orchestrator-events.js';
import type { TaskView } from '../orchestrator/task-view.js';
import type { StorageTaskContext } from '../tasks/storage-task.js';
import { AccessRule } from './access-rule.js';
import { clientErrorHandler } from './client-errors.js';
import { namedHost } from './host-field.js';
import { Backlog } from './backlog.js';
import { backlogMetrics } from './backlog-metrics.js';
import { ConfigStore } from './config-store.js';
import { EndHistory } from './end-history.js';
import { continueAfterChecks } from './expect-continue.js';
import { errorBody, replyFor, ServerErrorCode } from './http-errors.js';
import { dashboardRoutes, isDashboardFile } from './routes/dashboard.js';
import { eventRoutes } from './routes/events.js';
import { objectRoutes } from './routes/objects.js';
import { statsRoutes } from './routes/stats.js';
import { systemRoutes } from './routes/system.js';
import { taskLogRoutes } from './routes/task-log.js';
import { taskRetryRoutes } from './routes/task-retry.js';
import { taskRoutes } from './routes/tasks.js';
import type { RouteDeps, ServedOrchestrator } from './served.js';
import { SiteGuard, type Refusal } from './site-guard.js';
import { TaskEventLog } from './task-event-log.js';
import { shownPath, TaskFeed } from './task-feed.js';
import { TaskTable } from './task-table.js';

/** Options of {@link startServer}. */
export interface ServerOptions {
  readonly orchestrator: ServedOrchestrator;
  /** The storage of the object routes (backend, keyring, cache). Default: the default backend. */
  readonly storage?: StorageTaskContext;
  /**
   * Default 127.0.0.1. Anything beyond loopback needs `token`. Requests must
   * name a loopback host or this one in their Host header (every Host when
   * it is 0.0.0.0 or ::, where the token guards); see {@link SiteGuard}.
   */
  readonly host?: string;
  /** Default 8080; 0 picks a free port. */
  readonly port?: number;
  /** The bearer token every route requires (TASKFORGE_TOKEN) but /healthz and the dashboard's files, which hold no data; at least 16 characters. */
  readonly token?: string;
  /** Where /metrics reads from; the orchestrator should record into the same. Default: a new one the object routes record into. */
  readonly metrics?: OrchestratorMetrics;
  /**
   * Record the orchestrator's tasks into `metrics` from its events: for an
   * orchestrator that does not record them itself (one on Redis with
   * concurrency 0, whose tasks run in workers elsewhere). Its queue's depth
   * and running tasks (on every worker) are read from the queue at each
   * scrape. Default false.
   */
  readonly metricsFromEvents?: boolean;
  readonly logger?: Logger;
  /** The largest JSON body (POST /tasks), bytes. Default 1 MiB. */
  readonly bodyLimit?: number;
  /** The largest object a PUT may store, bytes. Default 5 GiB. */
  readonly maxObjectBytes?: number;
  /** Finished tasks the listing keeps (and tasks whose events and config view a detail shows). Default 10,000. */
  readonly keepFinished?: number;
  /** Bytes (as JSON) of the whole configs of unfinished and failed tasks kept for POST /tasks/:id/retry; the oldest go first. Default 64 MiB. */
  readonly keepConfigBytes?: number;
  /** Tasks taken (POST /tasks, retries) and not ended that the server holds at most; past it, 503 BACKLOG_FULL. Default 100,000. */
  readonly maxBacklog?: number;
  /** Bytes of the requests those tasks came in, at most; past it, 503 BACKLOG_FULL. Default 256 MiB. */
  readonly maxBacklogBytes?: number;
}

/** A running server. */
export interface TaskforgeServer {
  /** Where it listens, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  readonly app: FastifyInstance;
  /**
   * Stops listening and detaches from the orchestrator (the orchestrator
   * itself is the caller's): open /events streams and idle connections end
   * at once, a request in flight (an object's upload or download) gets
   * `timeoutMs` (default 30 s) to finish; past it, its connection is cut
   * (an upload cut stores nothing) and `onCut` hears how many were.
   */
  close(options?: { readonly timeoutMs?: number; readonly onCut?: (connections: number) => void }): Promise<void>;
}

/** How long close() lets requests in flight finish, by default: as long as Orchestrator.shutdown gives running tasks. */
const DEFAULT_CLOSE_TIMEOUT_MS = 30_000;

const DEFAULT_BODY_LIMIT = 1024 * 1024;
const DEFAULT_MAX_OBJECT_BYTES = 5 * 1024 ** 3;
/** The routes that need the queue's server (the others answer from what this server holds). */
const NEEDS_QUEUE = new Set(['POST /tasks', 'GET /tasks/:id', 'POST /tasks/:id/cancel', 'POST /tasks/:id/retry']);
/** Request headers beyond this are refused with 431 (Node's default is 16 KiB; no route needs more than a few hundred bytes). */
const MAX_HEADER_BYTES = 8 * 1024;

/**
 * Starts the HTTP API over an orchestrator: tasks, live events, metrics,
 * health, the storage routes, the OpenAPI document and the dashboard at /. Listens on
 * 127.0.0.1 unless told otherwise, and refuses to listen beyond loopback
 * without a token. Bad input gets a 4xx with a stable code and the fields
 * at fault; never a stack trace.
 */
export async function startServer(options: ServerOptions): Promise<TaskforgeServer> {
  const host = options.host ?? '127.0.0.1';
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const access = AccessRule.for(host, options.token);
  const guard = SiteGuard.for(host);
  const logger = options.logger ?? getDefaultLogger();
  const table = new TaskTable(options.keepFinished);
  const history = new EndHistory();
  const keepTasks = options.keepFinished === undefined ? {} : { maxTasks: options.keepFinished };
  const eventLog = new TaskEventLog(keepTasks);
  const configs = new ConfigStore({ ...keepTasks, ...(options.keepConfigBytes === undefined ? {} : { maxBytes: options.keepConfigBytes }) });
  const backlog = new Backlog({ ...(options.maxBacklog === undefined ? {} : { maxTasks: options.maxBacklog }), ...(options.maxBacklogBytes === undefined ? {} : { maxBytes: options.maxBacklogBytes }) });
  const feed = new TaskFeed(options.orchestrator, table, [history, eventLog, configs, backlog], async (id) => options.orchestrator.get(id));
  await listUnfinished(options.orchestrator, table, logger);
  const metrics = options.metrics ?? new OrchestratorMetrics();
  backlog.onRefused = backlogMetrics(metrics.registry, backlog);
  const stopRecording = options.metricsFromEvents === true ? recordMetrics(options.orchestrator, metrics) : () => undefined;
  const deps: RouteDeps = {
    orchestrator: options.orchestrator,
    table,
    feed,
    history,
    eventLog,
    configs,
    backlog,
    access,
    metrics,
    storage: options.storage ?? {},
    logger,
    maxObjectBytes: options.maxObjectBytes ?? DEFAULT_MAX_OBJECT_BYTES,
  };
  const app = Fastify({
    logger: false,
    bodyLimit,
    // A request without Host is refused below (400, in the shape of every error), not by Node (an empty 400).
    http: { maxHeaderSize: MAX_HEADER_BYTES, requireHostHeader: false },
    clientErrorHandler: clientErrorHandler(MAX_HEADER_BYTES),
    // A task id may be 256 characters, and percent-encoding triples them.
    routerOptions: { maxParamLength: 3 * 256 },
    // An upload may take long; an idle connection may not.
    requestTimeout: 0,
    connectionTimeout: 0,
    keepAliveTimeout: 5000,
    // close() ends idle keep-alive connections instead of waiting for them, and lets requests in flight finish (see close).
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    // A URL that cannot be decoded, or a bad content type, is refused before routing: in the same shape as every other error.
    frameworkErrors: (error, _request, reply) => {
      const { status, body } = frameworkError(error, bodyLimit);
      // send() answers at once and returns the reply (a thenable only for those who await the response's end): nothing here can reject.
      (reply as FastifyReply).code(status).send(body);
    },
  });
  // Before any route and any body is read: a foreign Host learns nothing (not even that a token is needed), then the token, then cross-site checks.
  app.addHook('onRequest', (request, reply, done) => {
    const named = namedHost(request.raw);
    // (A copy only for a request in absolute form, whose URL names the host.)
    const headers = 'status' in named || named.host === request.headers.host ? request.headers : { ...request.headers, host: named.host };
    const refusal = 'status' in named ? named : (guard.hostRefusal(headers) ?? tokenRefusal(access, request.url, request.headers.authorization) ?? guard.crossSiteRefusal(request.method, headers));
    if (refusal === undefined) {
      done();
      return;
    }
    if (refusal.status === 401) reply.header('www-authenticate', 'Bearer realm="taskforge"');
    reply.code(refusal.status).send(refusal.body);
  });
  continueAfterChecks(app, bodyLimit);
  // A route that needs the queue while its server cannot be reached is refused at once: left to wait, a
  // submission would be sent when the connection comes back, after a client that gave up had sent it again.
  app.addHook('preHandler', (request, reply, done) => {
    const unreachable = NEEDS_QUEUE.has(`${request.method} ${request.routeOptions.url ?? ''}`) ? options.orchestrator.queueUnreachable : undefined;
    if (unreachable === undefined) {
      done();
      return;
    }
    reply.code(503).send(errorBody(ErrorCode.BACKEND_UNAVAILABLE, `${unreachable}; nothing was done: try again once it is back`));
  });
  // An empty JSON body is no body (POST /tasks/:id/cancel takes none, yet must say application/json); the rest is fastify's own parser (which refuses __proto__ keys).
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.length === 0) {
      done(null, undefined);
      return undefined;
    }
    // Returned: fastify settles a parser's promise itself, should this one ever give one.
    return parseJson(request, text, done);
  });
  app.setErrorHandler((error, request, reply) => {
    const { status, body } = isTaskforgeError(error) ? replyFor(error) : frameworkError(error, bodyLimit);
    if (status >= 500) logger.error({ method: request.method, url: request.url, err: error instanceof Error ? error.message : String(error) }, 'request failed');
    reply.code(status).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send(errorBody(ErrorCode.NOT_FOUND, `no route ${request.method} ${request.url.split('?')[0] ?? ''}`));
  });
  taskRoutes(app, deps);
  taskLogRoutes(app, deps);
  taskRetryRoutes(app, deps);
  statsRoutes(app, deps);
  eventRoutes(app, deps);
  await objectRoutes(app, deps);
  systemRoutes(app, deps);
  dashboardRoutes(app);
  const address = await app.listen({ host, port: options.port ?? 8080 });
  logger.info({ url: address, token: access.requiresToken }, 'taskforge server listening');
  return {
    url: address,
    app,
    close: async (closeOptions = {}) => {
      stopRecording();
      // Ends the /events streams, which never finish by themselves.
      feed.close();
      const timeoutMs = closeOptions.timeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
      const cut = setTimeout(() => {
        // Idle ones were closed as the close began: what is left is requests in flight (a transfer, a stream).
        app.server.getConnections((_error, count) => {
          if (count === 0) return;
          logger.warn({ connections: count, timeoutMs }, 'requests still in flight at the close timeout were cut (an upload cut stores nothing)');
          closeOptions.onCut?.(count);
        });
        app.server.closeAllConnections();
      }, timeoutMs);
      // A keep-alive connection whose request finishes during the close turns idle; Node reaps idle ones only as the close begins.
      const reap = setInterval(() => {
        app.server.closeIdleConnections();
      }, 50);
      try {
        await app.close();
      } finally {
        clearTimeout(cut);
        clearInterval(reap);
      }
    },
  };
}

/**
 * Puts the queue's unfinished tasks in the table, as they are now: those a
 * SQLite queue kept from an earlier process (and those it started before
 * this server listened) are listed with their own submission time, not first
 * seen at their next event. Events heard since the feed attached win.
 */
async function listUnfinished(orchestrator: ServedOrchestrator, table: TaskTable, logger: Logger): Promise<void> {
  let views: readonly TaskView[];
  try {
    views = (await orchestrator.unfinished?.(table.keepFinished)) ?? [];
  } catch (error) {
    logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'the queue could not list its unfinished tasks: the task list starts empty');
    return;
  }
  for (const view of views) {
    if (table.get(view.id) !== undefined) continue;
    const path = shownPath(view.path);
    table.add({ id: view.id, type: view.type, priority: view.priority, status: view.status, attempts: view.attempts, submittedAt: view.submittedAt, ...(view.operation === undefined || path === undefined ? {} : { operation: view.operation, path }) });
  }
}

/** Errors fastify raises before a route runs (a body that is not JSON, too large, a bad header), as 4xx with a code. */
function frameworkError(error: unknown, bodyLimit: number): { status: number; body: ReturnType<typeof errorBody> } {
  const status = error instanceof Error ? (error as FastifyError).statusCode : undefined;
  if (error instanceof Error && (error as FastifyError).code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    // Fastify's own words name no bound: a client must learn it, and that a large object has its own route.
    const mib = bodyLimit % (1024 * 1024) === 0 ? `${String(bodyLimit / (1024 * 1024))} MiB (${String(bodyLimit)} bytes)` : `${String(bodyLimit)} bytes`;
    return { status: 413, body: errorBody(ErrorCode.LIMIT_EXCEEDED, `request: its body is over ${mib}, the most this server takes in one JSON request; store a large object with PUT /objects/PATH, or send fewer tasks per request`) };
  }
  if (status !== undefined && status >= 400 && status < 500) {
    const code = status === 413 ? ErrorCode.LIMIT_EXCEEDED : status === 415 ? ServerErrorCode.UNSUPPORTED_MEDIA_TYPE : ErrorCode.VALIDATION_ERROR;
    return { status, body: errorBody(code, `request: ${(error as Error).message}`) };
  }
  return replyFor(error);
}

/** The 401 of a request without the token, on a server that has one; /healthz and the dashboard's files are open (they hold no data). */
function tokenRefusal(access: AccessRule, url: string, authorization: string | undefined): Refusal | undefined {
  if (url === '/healthz' || isDashboardFile(url) || access.admits(authorization)) return undefined;
  return { status: 401, body: errorBody(ServerErrorCode.UNAUTHORIZED, 'this server needs "Authorization: Bearer <TASKFORGE_TOKEN>"') };
}

/** Records an orchestrator's tasks into `metrics` from its events; returns how to stop. */
function recordMetrics(orchestrator: ServedOrchestrator, metrics: OrchestratorMetrics): () => void {
  const submitted = (event: OrchestratorEvents['submit']): void => {
    metrics.submitted(event.type);
  };
  const started = (event: OrchestratorEvents['start']): void => {
    metrics.started(event.type);
  };
  const completed = (result: OrchestratorEvents['complete']): void => {
    metrics.finished(result);
  };
  const failed = (event: OrchestratorEvents['error']): void => {
    metrics.finished(event.result);
  };
  orchestrator.on('submit', submitted);
  orchestrator.on('start', started);
  orchestrator.on('complete', completed);
  orchestrator.on('error', failed);
  // Its queue's depth and running tasks (on every worker), read from the queue at each scrape.
  const observed =
    orchestrator.counts === undefined || orchestrator.queueName === undefined
      ? undefined
      : {
          queueName: orchestrator.queueName,
          running: 0,
          counts: orchestrator.counts.bind(orchestrator),
          get queueUnreachable() {
            return orchestrator.queueUnreachable;
          },
        };
  if (observed !== undefined) metrics.observe(observed, { runningFromQueue: true });
  return () => {
    if (observed !== undefined) metrics.unobserve(observed);
    orchestrator.off('submit', submitted);
    orchestrator.off('start', started);
    orchestrator.off('complete', completed);
    orchestrator.off('error', failed);
  };
}
