import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { freePort } from './free-port.js';
import { stopChild } from './stop-child.js';

/** A redis-server of a test's own, on a free loopback port, keeping nothing on disk. */
export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly pid: number;
  /** Stops it by PID (SIGTERM, then SIGKILL after 5 s) and waits for it to exit. */
  stop(): Promise<void>;
  /** Kills it by PID with SIGKILL (it keeps nothing: everything it held is gone) and waits for it to exit. */
  kill(): Promise<void>;
}

/**
 * Starts redis-server on 127.0.0.1 and a free port (or `port`: a server started again where one died);
 * resolves once it answers PING. With `keepIn`, it keeps its data in that folder (AOF, fsync on every
 * write): one started again on the same folder has everything the killed one acknowledged.
 */
export async function startRedisServer(options: { readonly port?: number; readonly keepIn?: string } = {}): Promise<RedisServer> {
  const port = options.port ?? (await freePort());
  const persistence = options.keepIn === undefined ? ['--appendonly', 'no'] : ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', options.keepIn];
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence, '--daemonize', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const pid = child.pid;
  if (pid === undefined) throw new Error('redis-server did not start');
  for (let waited = 0; !(await answersPing(port)); waited += 20) {
    if (child.exitCode !== null || waited > 10_000) {
      child.kill('SIGKILL');
      throw new Error(`redis-server on port ${String(port)} did not come up: ${output.slice(-500)}`);
    }
    await delay(20);
  }
  const kill = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve(); }));
    process.kill(pid, 'SIGKILL');
    await exited;
  };
  return { port, url: `redis://127.0.0.1:${String(port)}`, pid, stop: () => stopChild(child), kill };
}

/** True when something on 127.0.0.1:port answers a RESP PING with +PONG. */
export function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const done = (answer: boolean): void => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(1000, () => {
      done(false);
    });
    socket.once('error', () => {
      done(false);
    });
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}
