import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Route config of a route that says 100 Continue itself, once it has checked what it can before the body ({@link sendContinue}). */
export const CONTINUE_IN_HANDLER = { continueInHandler: true } as const;

/** Requests told 100 Continue. */
const continued = new WeakSet<IncomingMessage>();

/** Whether the client waits for 100 Continue before it sends the body. */
export function expectsContinue(request: FastifyRequest): boolean {
  return request.headers.expect?.toLowerCase() === '100-continue';
}

/** Tells a client that waits for it to send its body (once). */
export function sendContinue(request: FastifyRequest, reply: FastifyReply): void {
  if (!expectsContinue(request) || continued.has(request.raw) || reply.raw.headersSent) return;
  continued.add(request.raw);
  reply.raw.writeContinue();
}

/**
 * Answers Expect: 100-continue only once a request has passed every check
 * made before its body (the host, the token, a full backlog, a declared
 * size over the body limit or a route's own): Node would answer 100 at
 * once, and a client refused anyway would have sent its body for nothing
 * (curl sends a large body only after the 100). A request answered
 * without its 100 closes its connection: the body it announced never
 * comes, so the connection cannot carry another request.
 */
export function continueAfterChecks(app: FastifyInstance, bodyLimit: number): void {
  // With a listener here, Node leaves the 100 to us and hands the request on as any other.
  app.server.on('checkContinue', (request, response) => {
    app.server.emit('request', request, response);
  });
  // preParsing: after every onRequest hook (global, then the route's), before the body is read.
  app.addHook('preParsing', (request, reply, payload, done) => {
    const inHandler = (request.routeOptions.config as { continueInHandler?: boolean } | undefined)?.continueInHandler === true;
    // A JSON body declared over the limit is refused by the parser (413) without being asked for.
    if (!inHandler && !(Number(request.headers['content-length']) > bodyLimit)) sendContinue(request, reply);
    done(null, payload);
  });
  app.addHook('onSend', (request, reply, payload, done) => {
    if (expectsContinue(request) && !continued.has(request.raw)) reply.header('connection', 'close');
    done(null, payload);
  });
}
