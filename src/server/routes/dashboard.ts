import { existsSync, readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ErrorCode } from '../../core/errors.js';
import { errorBody } from '../http-errors.js';

/** The dashboard's files and their types; served from memory. */
const FILES = { 'index.html': 'text/html; charset=utf-8', 'app.js': 'text/javascript; charset=utf-8', 'style.css': 'text/css; charset=utf-8' } as const;

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

/** GET / (the dashboard) and its script and style. */
export function dashboardRoutes(app: FastifyInstance): void {
  const directory = dashboardDirectory();
  const files = new Map<string, { body: Buffer; type: string }>();
  if (directory !== undefined) {
    for (const [name, type] of Object.entries(FILES)) files.set(name, { body: readFileSync(new URL(name, directory)), type });
  }
  const serve =
    (name: string) => (_request: unknown, reply: FastifyReply): FastifyReply => {
    const file = files.get(name);
    if (file === undefined) return reply.code(404).send(errorBody(ErrorCode.NOT_FOUND, 'the dashboard is not built here (npm run build builds it)'));
    return reply.header('content-type', file.type).header('content-security-policy', CONTENT_SECURITY_POLICY).header('x-content-type-options', 'nosniff').header('cache-control', 'no-cache').send(file.body);
  };
  app.get('/', serve('index.html'));
  app.get('/dashboard/app.js', serve('app.js'));
  app.get('/dashboard/style.css', serve('style.css'));
}
