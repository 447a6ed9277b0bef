import { importOptional } from '../core/optional-package.js';
import type { ServerOptions, TaskforgeServer } from './create-server.js';

/**
 * Starts the HTTP API and the dashboard over an orchestrator (see the
 * README's route table). fastify is loaded on the first call, so a program
 * that imports taskforge for in-process work never loads it.
 *
 * @throws UNSUPPORTED_OPTION naming the packages, when fastify or prom-client is not installed.
 */
export async function startServer(options: ServerOptions): Promise<TaskforgeServer> {
  await loadServerPackages();
  const { startServer: start } = await import('./create-server.js');
  return start(options);
}

/**
 * Loads what the server needs, each asked for by name: a missing package is
 * told as such (all of them at once), not as a module of taskforge's that
 * failed to load.
 */
export async function loadServerPackages(): Promise<void> {
  await importOptional('the HTTP server (startServer, taskforge serve)', { fastify: () => import('fastify'), 'prom-client': () => import('prom-client') });
}
