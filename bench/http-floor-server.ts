// The peers of the HTTP submission benchmark, on fastify. Prints its URL,
// runs until SIGTERM. With no argument, the floor: one route that answers
// 202 and does nothing else. With `durable ROOT`, the glue a user would
// write instead of `taskforge serve`: the route answers 202 and queues the
// submitted write (p-queue, 16 at a time, as serve's --concurrency 16),
// made as taskforge makes it durable (a temporary file, fsync, rename,
// fsync of its directory); GET /written says how many have been made.
// GET /loop gives the event loop's p99 delay since the last GET /loop, as
// serve's /metrics does, so that the two are read alike.
import { mkdir, open, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Fastify from 'fastify';
import PQueue from 'p-queue';

const [mode, root = ''] = process.argv.slice(2);
const app = Fastify({ logger: false });
const writes = new PQueue({ concurrency: 16 });
let accepted = 0;
let written = 0;
let failed = 0;

interface Submission {
  readonly id: string;
  readonly metadata: { readonly path: string; readonly data: unknown };
}

async function writeDurably(path: string, data: unknown): Promise<void> {
  const file = join(root, path);
  const folder = dirname(file);
  await mkdir(folder, { recursive: true });
  const temporary = `${file}.${String(accepted)}.tmp`;
  const handle = await open(temporary, 'wx');
  try {
    await handle.write(JSON.stringify(data));
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, file);
  const directory = await open(folder, 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}

app.post('/tasks', (request, reply) => {
  accepted += 1;
  if (mode === 'durable') {
    const { metadata } = request.body as Submission;
    void writes.add(() => writeDurably(metadata.path, metadata.data)).then(
      () => (written += 1),
      () => (failed += 1),
    );
  }
  return reply.code(202).send({ ids: [String(accepted)] });
});
app.get('/written', () => ({ written, failed }));
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
loopDelay.enable();
app.get('/loop', () => {
  const p99Ms = loopDelay.percentile(99) / 1e6;
  loopDelay.reset();
  return { p99Ms };
});
const url = await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`${url}\n`);
process.once('SIGTERM', () => {
  void app.close().then(() => process.exit(0));
});
