import type { FastifyInstance } from 'fastify';
import type { RouteDeps } from '../served.js';
import { openApiDocument } from '../openapi.js';

/** GET /healthz (open to all), GET /metrics (Prometheus), GET /openapi.json. */
export function systemRoutes(app: FastifyInstance, deps: RouteDeps): void {
  // A server whose queue cannot be reached can take no task: a balancer should send clients elsewhere.
  app.get('/healthz', (_request, reply) => {
    const unreachable = deps.orchestrator.queueUnreachable;
    return unreachable === undefined ? reply.send({ status: 'ok' }) : reply.code(503).send({ status: 'unavailable', queue: unreachable });
  });

  app.get('/metrics', async (_request, reply) => {
    const text = await deps.metrics.text();
    return reply.header('content-type', deps.metrics.registry.contentType).send(text);
  });

  const document = openApiDocument();
  app.get('/openapi.json', (_request, reply) => reply.send(document));
}
