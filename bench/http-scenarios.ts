// HTTP scenarios: task submissions to `taskforge serve` (a separate process,
// the real CLI) from a keep-alive client with a fixed number of requests in
// flight, each a POST /tasks of one storage write; then a check that every
// task completed and every object holds what was sent. Beside it, on the
// same machine and client: the floor, a bare fastify route that answers 202
// and does nothing; and the hand-written peer, a fastify route that answers
// 202 and makes the same durable write itself (http-floor-server.ts).
// Submissions per second are timed to the last answer; the writes go on
// after it, and `completedPerSecond` times them to the last one made.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Measurement } from './scenarios.js';

/** What to run. */
export interface HttpSpec {
  readonly count: number;
  /** Requests in flight at once. */
  readonly concurrency: number;
  /** `taskforge`: taskforge serve; `floor`: bare fastify answering 202; `durable`: fastify answering 202 and making the write by hand. */
  readonly kind: 'taskforge' | 'floor' | 'durable';
}

/** Sends `count` submissions, times them, then checks that nothing was lost. */
export async function httpSubmit(directory: string, spec: HttpSpec): Promise<Measurement> {
  const root = join(directory, 'data');
  const server = await startServer(spec.kind, root);
  const agent = new Agent({ keepAlive: true, maxSockets: spec.concurrency });
  const latencies: number[] = [];
  // The server's event-loop delay, from serve's /metrics or the peers' /loop (read alike): p99 over each time
  // between scrapes (each scrape starts a new one), the worst kept. A scrape's text is returned (serve's metrics).
  const loop = { worstP99Ms: 0 };
  const scrapeLoop = async (): Promise<string> => {
    const text = (await get(server.url, spec.kind === 'taskforge' ? '/metrics' : '/loop', agent)).text;
    const p99Ms = spec.kind === 'taskforge' ? Number(/^nodejs_eventloop_lag_p99_seconds (\S+)$/m.exec(text)?.[1] ?? Number.NaN) * 1000 : (JSON.parse(text) as { p99Ms: number }).p99Ms;
    loop.worstP99Ms = Math.max(loop.worstP99Ms, p99Ms);
    return text;
  };
  await scrapeLoop();
  loop.worstP99Ms = 0;
  const cpuBefore = await cpuMsOf(server.child.pid ?? 0);
  let next = 0;
  const clientCpu = process.cpuUsage();
  const started = performance.now();
  try {
    await Promise.all(
      Array.from({ length: spec.concurrency }, async () => {
        while (next < spec.count) {
          const index = next;
          next += 1;
          const body = JSON.stringify({ id: `load-${String(index)}`, type: 'storage', metadata: { operation: 'write', path: `/load/${String(index % 100)}/${String(index)}.json`, data: { index } } });
          const sent = performance.now();
          const { status, text } = await post(server.url, '/tasks', body, agent);
          latencies.push(performance.now() - sent);
          if (status !== 202) throw new Error(`submission ${String(index)} answered ${String(status)}: ${text}`);
        }
      }),
    );
    const elapsedMs = performance.now() - started;
    const clientCpuUs = process.cpuUsage(clientCpu);
    const serverCpuAtAnswerMs = (await cpuMsOf(server.child.pid ?? 0)) - cpuBefore;
    await scrapeLoop();
    if (spec.kind === 'taskforge') await checkEveryTask(root, spec.count, scrapeLoop);
    if (spec.kind === 'durable') await checkEveryWrite(server.url, root, spec.count, agent, scrapeLoop);
    const completedMs = performance.now() - started;
    const serverCpuMs = (await cpuMsOf(server.child.pid ?? 0)) - cpuBefore;
    latencies.sort((a, b) => a - b);
    const at = (fraction: number): number => latencies[Math.min(latencies.length - 1, Math.floor(fraction * latencies.length))] ?? 0;
    return {
      perSecond: spec.count / (elapsedMs / 1000),
      unit: 'ops/s',
      elapsedMs,
      latencyP50Ms: at(0.5),
      latencyP99Ms: at(0.99),
      workerPeakRssMiB: await server.stop(),
      ...(spec.kind === 'floor' ? {} : { completedPerSecond: spec.count / (completedMs / 1000) }),
      loopP99Ms: loop.worstP99Ms,
      // (The scrapes of the loop's delay while waiting for the writes count too: a few ms in all.)
      serverCpuUsPerOp: (serverCpuMs * 1000) / spec.count,
      serverCpuUsPerAnswer: (serverCpuAtAnswerMs * 1000) / spec.count,
      clientCpuUsPerOp: (clientCpuUs.user + clientCpuUs.system) / spec.count,
    };
  } finally {
    agent.destroy();
    server.child.kill('SIGKILL');
  }
}

/** Waits until the hand-written peer has made every write (none failed), then reads every object back. */
async function checkEveryWrite(url: string, root: string, count: number, agent: Agent, scrapeLoop: () => Promise<unknown>): Promise<void> {
  const deadline = Date.now() + 300_000;
  for (;;) {
    await scrapeLoop();
    const { written, failed } = JSON.parse((await get(url, '/written', agent)).text) as { written: number; failed: number };
    if (failed > 0) throw new Error(`${String(failed)} writes failed`);
    if (written === count) break;
    if (Date.now() > deadline) throw new Error(`only ${String(written)} of ${String(count)} writes made in 5 minutes`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await readEveryObject(root, count);
}

/** Waits until the server's metrics count every task completed (none failed), then reads every object back. */
async function checkEveryTask(root: string, count: number, scrapeMetrics: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + 300_000;
  for (;;) {
    const metrics = await scrapeMetrics();
    const completed = Number(/taskforge_tasks_finished_total\{type="storage",status="completed",code=""\} (\d+)/.exec(metrics)?.[1] ?? 0);
    const failed = [...metrics.matchAll(/taskforge_tasks_finished_total\{type="storage",status="failed",code="[A-Z_]*"\} (\d+)/g)].reduce((sum, match) => sum + Number(match[1]), 0);
    if (failed > 0) throw new Error(`${String(failed)} tasks failed`);
    if (completed === count) break;
    if (Date.now() > deadline) throw new Error(`only ${String(completed)} of ${String(count)} tasks completed in 5 minutes`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await readEveryObject(root, count);
}

async function readEveryObject(root: string, count: number): Promise<void> {
  for (let index = 0; index < count; index += 1) {
    const stored = await readFile(join(root, 'load', String(index % 100), `${String(index)}.json`), 'utf8');
    if (stored !== JSON.stringify({ index })) throw new Error(`object ${String(index)} holds ${stored}`);
  }
}

interface Server {
  readonly url: string;
  readonly child: ChildProcess;
  /** SIGTERM, then its peak RSS in MiB. */
  stop(): Promise<number>;
}

function startServer(kind: HttpSpec['kind'], root: string): Promise<Server> {
  const script = kind === 'taskforge' ? fileURLToPath(new URL('../../dist/src/cli/bin.js', import.meta.url)) : fileURLToPath(new URL('http-floor-server.js', import.meta.url));
  if (!existsSync(script)) throw new Error(`${script} is missing: run npm run build first`);
  const args = kind === 'taskforge' ? [script, 'serve', '--port', '0', '--root', root, '--concurrency', '16'] : kind === 'durable' ? [script, 'durable', root] : [script];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env['PATH'], TASKFORGE_LOG_LEVEL: 'warn' } });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve, reject) => {
    const poll = setInterval(() => {
      const match = /(http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match?.[1] !== undefined) {
        clearInterval(poll);
        const url = match[1];
        resolve({
          url,
          child,
          stop: async () => {
            // Its peak RSS from /proc, read before it exits.
            const peak = await peakRssMiB(child.pid ?? 0);
            const exited = new Promise((done) => child.once('exit', done));
            child.kill('SIGTERM');
            await exited;
            return peak;
          },
        });
      } else if (child.exitCode !== null) {
        clearInterval(poll);
        reject(new Error(`the server exited: ${output}`));
      }
    }, 20);
  });
}

/** A process's CPU time so far, user + system over all its threads, in ms (from /proc: clock ticks of 10 ms). */
async function cpuMsOf(pid: number): Promise<number> {
  const line = await readFile(`/proc/${String(pid)}/stat`, 'utf8');
  const fields = line.slice(line.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name's closing parenthesis and the state.
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** A process's peak resident set (VmHWM), in MiB. */
async function peakRssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${String(pid)}/status`, 'utf8').catch(() => '');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

function post(url: string, path: string, body: string, agent: Agent): Promise<{ status: number; text: string }> {
  return send(url, path, agent, 'POST', body);
}

function get(url: string, path: string, agent: Agent): Promise<{ status: number; text: string }> {
  return send(url, path, agent, 'GET');
}

function send(url: string, path: string, agent: Agent, method: string, body?: string): Promise<{ status: number; text: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const outgoing = request({ host: hostname, port, path, method, agent, headers: body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => {
        resolve({ status: response.statusCode ?? 0, text });
      });
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

export const httpScenarios = { httpSubmit } as const;
