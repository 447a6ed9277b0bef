import { createServer, connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { clientErrorHandler } from '../../src/server/client-errors.js';

/** What a client reads when the server side of its connection is handed to the handler with `error` (the server then closes what the handler left open). */
async function answerTo(error: NodeJS.ErrnoException): Promise<string> {
  const handle = clientErrorHandler(8192);
  const server = createServer((socket: Socket) => {
    handle(error, socket);
    socket.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  try {
    return await new Promise<string>((resolve, reject) => {
      const client = connect({ host: '127.0.0.1', port });
      let text = '';
      client.on('data', (chunk: Buffer) => (text += chunk.toString()));
      client.on('close', () => {
        resolve(text);
      });
      client.on('error', reject);
    });
  } finally {
    server.close();
  }
}

function bodyOf(answer: string): unknown {
  return JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
}

describe('requests Node refuses before any route', () => {
  it('answer in the shape of every error, with a code, and close the connection', async () => {
    const tooLarge = await answerTo(Object.assign(new Error('Header overflow'), { code: 'HPE_HEADER_OVERFLOW' }));
    expect(tooLarge).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    expect(tooLarge).toContain('Connection: close');
    expect(bodyOf(tooLarge)).toEqual({ error: { code: 'LIMIT_EXCEEDED', message: 'request: its headers are over 8192 bytes' } });
    const slow = await answerTo(Object.assign(new Error('Request timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }));
    expect(slow).toMatch(/^HTTP\/1\.1 408 /);
    expect(bodyOf(slow)).toEqual({ error: { code: 'TIMEOUT', message: 'request: not received in time' } });
    const malformed = await answerTo(Object.assign(new Error('Invalid method'), { code: 'HPE_INVALID_METHOD' }));
    expect(malformed).toMatch(/^HTTP\/1\.1 400 /);
    expect(bodyOf(malformed)).toEqual({ error: { code: 'VALIDATION_ERROR', message: 'request: not valid HTTP (HPE_INVALID_METHOD)' } });
  });

  it('a connection the client reset gets nothing written', async () => {
    expect(await answerTo(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBe('');
  });
});
