import { importOptional } from '../core/optional-package.js';
import type { ServerOptions, TaskforgeServer } from './create-server.js';

/**
 * Starts the HTTP API and the dashboard over an orchestrator (see the
 * README's route table). fastify is loaded on the first call, so a program
 * that imports taskforge for in-process work never loads it.
 *
 * @throws UNSUPPORTED_OPTION naming the package when fastify (or, for the
 * default metrics, prom-client) is not installed.
 */
export async function startServer(options: ServerOptions): Promise<TaskforgeServer> {
  // Asked for by name first, so that a missing fastify is told as such, not as a module of taskforge that failed.
  await importOptional('the HTTP server (startServer, taskforge serve)', 'fastify', () => import('fastify'));
  const { startServer: start } = await import('./create-server.js');
  return start(options);
}
