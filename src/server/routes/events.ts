import type { FastifyInstance } from 'fastify';
import type { FeedEvent } from '../task-feed.js';
import type { RouteDeps } from '../served.js';

/** A comment line this often keeps proxies from closing a quiet stream. */
const HEARTBEAT_MS = 15_000;
/** A subscriber that lets this much pile up unread is dropped (it reconnects and reloads). */
const MAX_BUFFERED_BYTES = 1024 * 1024;

/**
 * GET /events: Server-Sent Events, one per task lifecycle event (`submit`,
 * `start`, `retry`, `progress`, `cancel`, `complete`, `error`), live; each
 * `data` is JSON with the event's fields and `task`, the task's row after it.
 */
export function eventRoutes(app: FastifyInstance, deps: RouteDeps): void {
  app.get('/events', (request, reply) => {
    reply.hijack();
    const response = reply.raw;
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    response.write('retry: 2000\n\n');
    let stop = (): void => undefined;
    const end = (): void => {
      stop();
      clearInterval(heartbeat);
      if (!response.writableEnded) response.end();
    };
    const send = (event: FeedEvent): void => {
      if (response.writableLength > MAX_BUFFERED_BYTES) {
        deps.logger.warn({ subscriber: request.ip }, 'an /events subscriber fell behind; dropped');
        end();
        return;
      }
      response.write(`event: ${event.event}\ndata: ${JSON.stringify(event.data)}\n\n`);
    };
    // The server's close ends the stream: it would otherwise hold the close until the client left.
    stop = deps.feed.subscribe(send, end);
    const heartbeat = setInterval(() => response.write(': ping\n\n'), HEARTBEAT_MS);
    heartbeat.unref();
    // The response closes when the client goes away (the request's own 'close' may come as soon as its empty body is read).
    response.once('close', end);
  });
}
