import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answersPing, startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { serviceAvailable } from '../helpers/services.js';

const haveRedis = serviceAvailable('Redis', 'redis-server', 'apt-get install -y redis-server');

describe.runIf(haveRedis)('a redis-server of the tests own', () => {
  let server: RedisServer | undefined;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('listens on a free loopback port, not the standard one, and stops by PID', async () => {
    if (server === undefined) throw new Error('no server');
    expect(server.port).not.toBe(6379);
    expect(server.url).toBe(`redis://127.0.0.1:${String(server.port)}`);
    expect(await answersPing(server.port)).toBe(true);
    await server.stop();
    expect(() => process.kill(server?.pid ?? 0, 0)).toThrow();
    expect(await answersPing(server.port)).toBe(false);
  });
});
