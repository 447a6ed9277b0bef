import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Orchestrator } from '../../src/orchestrator/orchestrator.js';
import { OrchestratorMetrics } from '../../src/orchestrator/metrics.js';
import { FileSystemBackend } from '../../src/storage/backends/filesystem.js';
import { Keyring } from '../../src/storage/codec/keyring.js';
import { startServer, type ServerOptions, type TaskforgeServer } from '../../src/server/create-server.js';
import { Journal, ProbeTask } from './probe-task.js';
import { makeTempDir } from './temp-dir.js';

/** A server over an in-process orchestrator (probe tasks registered) and a filesystem root in a temp dir. */
export interface ApiFixture {
  readonly server: TaskforgeServer;
  readonly orchestrator: Orchestrator;
  readonly base: string;
  /** The storage root on disk. */
  readonly root: string;
  readonly journal: Journal;
  close(): Promise<void>;
}

export async function apiFixture(options: Partial<Omit<ServerOptions, 'orchestrator'>> = {}): Promise<ApiFixture> {
  const dir = await makeTempDir('taskforge-api-');
  const root = join(dir.path, 'root');
  const storage = { backend: new FileSystemBackend({ root }), keyring: Keyring.fromKey(randomBytes(32)) };
  const metrics = new OrchestratorMetrics();
  const journal = new Journal();
  const orchestrator = new Orchestrator({ concurrency: 4, metrics, context: { ...storage, journal }, taskTypes: { probe: ProbeTask } });
  const server = await startServer({ orchestrator, storage, metrics, port: 0, ...options });
  return {
    server,
    orchestrator,
    base: server.url,
    root,
    journal,
    close: async () => {
      await server.close();
      await orchestrator.shutdown({ timeoutMs: 1000 });
      await dir.remove();
    },
  };
}

/** A response's status and its JSON body. */
export interface JsonReply {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

export async function getJson(base: string, path: string): Promise<JsonReply> {
  const response = await fetch(`${base}${path}`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** A POST as the API wants it: application/json, with a body or none. */
export async function postJson(base: string, path: string, body?: unknown): Promise<JsonReply> {
  const response = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Submits one config over HTTP and returns its id. */
export async function submit(base: string, config: unknown): Promise<string> {
  const { status, body } = await postJson(base, '/tasks', config);
  if (status !== 202) throw new Error(`POST /tasks answered ${String(status)}: ${JSON.stringify(body)}`);
  return (body['ids'] as string[])[0] ?? '';
}

/** Asks GET /tasks/:id until the task has ended, and returns what it said. */
export async function ended(base: string, id: string): Promise<Record<string, unknown>> {
  for (let attempt = 0; attempt < 500; attempt += 1) {
    const { body } = await getJson(base, `/tasks/${encodeURIComponent(id)}`);
    if (body['status'] === 'completed' || body['status'] === 'failed') return body;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`task ${id} never ended`);
}
