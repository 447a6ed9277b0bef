import type { ServerOptions, TaskforgeServer } from './create-server.js';

/**
 * Starts the HTTP API and the dashboard over an orchestrator (see the
 * README's route table). fastify is loaded on the first call, so a program
 * that imports taskforge for in-process work never loads it.
 */
export async function startServer(options: ServerOptions): Promise<TaskforgeServer> {
  const { startServer: start } = await import('./create-server.js');
  return start(options);
}
