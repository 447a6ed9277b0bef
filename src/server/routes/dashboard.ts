import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ErrorCode } from '../../core/errors.js';
import { errorBody } from '../http-errors.js';

/** The dashboard's page and style; its script is every module tsc built beside them (app.js imports the others). */
const PAGE = { 'index.html': 'text/html; charset=utf-8', 'style.css': 'text/css; charset=utf-8' } as const;
const SCRIPT_TYPE = 'text/javascript; charset=utf-8';
/** A module's file name: nothing else in that folder is served. */
const MODULE_NAME = /^[a-z][a-z0-9-]*\.js$/;

/** Nothing but this server: no CDN, no outside fetch, no inline script. */
const CONTENT_SECURITY_POLICY = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** Paths the token does not guard: the dashboard's code, which holds no data (it asks for the token and sends it on every API call). */
export function isDashboardFile(url: string): boolean {
  const path = url.split('?')[0] ?? '';
  return path === '/' || path.startsWith('/dashboard/');
}

/** Where the built dashboard is: beside the server's own folder (dist), or in dist when the server runs from source. */
function dashboardDirectory(): URL | undefined {
  for (const candidate of ['../../dashboard/', '../../../dist/src/dashboard/']) {
    const directory = new URL(candidate, import.meta.url);
    if (existsSync(new URL('app.js', directory)) && existsSync(new URL('index.html', directory))) return directory;
  }
  return undefined;
}

/** GET / (the dashboard), its style, and its script's modules, read once at start. */
export function dashboardRoutes(app: FastifyInstance): void {
  const directory = dashboardDirectory();
  const files = new Map<string, { body: Buffer; type: string }>();
  if (directory !== undefined) {
    for (const [name, type] of Object.entries(PAGE)) files.set(name, { body: readFileSync(new URL(name, directory)), type });
    for (const name of readdirSync(directory)) {
      if (MODULE_NAME.test(name)) files.set(name, { body: readFileSync(new URL(name, directory)), type: SCRIPT_TYPE });
    }
  }
  const serve = (name: string, reply: FastifyReply): FastifyReply => {
    const file = files.get(name);
    if (file === undefined) {
      const why = directory === undefined ? 'the dashboard is not built here (npm run build builds it)' : `the dashboard has no file '${name}'`;
      return reply.code(404).send(errorBody(ErrorCode.NOT_FOUND, why));
    }
    return reply.header('content-type', file.type).header('content-security-policy', CONTENT_SECURITY_POLICY).header('x-content-type-options', 'nosniff').header('cache-control', 'no-cache').send(file.body);
  };
  app.get('/', (_request, reply) => serve('index.html', reply));
  app.get('/dashboard/style.css', (_request, reply) => serve('style.css', reply));
  // The files read at start are the only ones served: no path reaches the disk.
  app.get('/dashboard/:module', (request, reply) => serve((request.params as { module: string }).module, reply));
}
