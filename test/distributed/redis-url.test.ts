import { describe, expect, it } from 'vitest';
import { parseRedisUrl } from '../../src/distributed/redis-url.js';

describe('parseRedisUrl', () => {
  it('reads the server and the queue name (default "tasks"), TLS and a database number', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6379')).toEqual({ url: 'redis://127.0.0.1:6379', name: 'tasks' });
    expect(parseRedisUrl('redis://h:1/2?name=backups.v2')).toEqual({ url: 'redis://h:1/2', name: 'backups.v2' });
    expect(parseRedisUrl('rediss://user:pw@h:6380/0')).toEqual({ url: 'rediss://user:pw@h:6380/0', name: 'tasks' });
  });

  it.each([
    ['not a url', 'not a URL'],
    ['http://h:1', 'expected redis:// or rediss://'],
    ['redis://', 'no host'],
    ['redis://h:1/queue', 'the path, if any, is a database number such as /0'],
    ['redis://h:1?nme=x', "unknown parameter 'nme' (known: name)"],
    ['redis://127.0.0.1:99999', 'port 99999 is not 1 to 65535'],
    ['redis://127.0.0.1:0', 'port 0 is not 1 to 65535'],
  ])('refuses %s with VALIDATION_ERROR naming the field: %s', (text, why) => {
    expect(() => parseRedisUrl(text, '--queue')).toThrow(expect.objectContaining({ code: 'VALIDATION_ERROR', message: expect.stringContaining(`--queue: '${text}' is not a Redis queue URL (${why})`) as string }));
  });

  it('refuses a queue name BullMQ or the key layout cannot take', () => {
    for (const name of ['a:b', '', 'x'.repeat(101), 'sp ace']) {
      expect(() => parseRedisUrl(`redis://h:1?name=${encodeURIComponent(name)}`)).toThrow(expect.objectContaining({ code: 'VALIDATION_ERROR', message: expect.stringContaining('a Redis queue name is 1 to 100 letters') as string }));
    }
  });

  it('keeps a password out of its messages', () => {
    expect(() => parseRedisUrl('redis://user:hunter2@h:1/db')).toThrow(expect.objectContaining({ message: expect.not.stringContaining('hunter2') as string }));
  });
});
