import { connect, type Socket } from 'node:net';

/**
 * Sends a request's head (`request` is its method and path; no body yet) on a raw connection and returns
 * what the server answers before any byte of the body is sent; when it
 * answers 100 Continue, sends `body` and returns the whole exchange.
 */
export function headFirst(base: string, request: string, headers: Record<string, string>, body: string | Buffer): Promise<string> {
  const { hostname, port } = new URL(base);
  const head = Object.entries({ host: `${hostname}:${port}`, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...headers })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  return rawExchange(base, `${request} HTTP/1.1\r\n${head}\r\n`, (text, socket) => {
    if (text === 'HTTP/1.1 100 Continue\r\n\r\n') {
      socket.write(body);
      return false;
    }
    // A final answer (its JSON body ends with '}').
    return /^HTTP\/1\.1 [2-5]\d\d /m.test(text.replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, '')) && text.trimEnd().endsWith('}');
  });
}

/**
 * Writes `sent` on a raw connection to `base` and resolves with all it
 * hears once `heardAll` (told the text so far, and the socket to write
 * more) says so; rejects after 5 s.
 */
export function rawExchange(base: string, sent: string, heardAll: (text: string, socket: Socket) => boolean): Promise<string> {
  const { hostname, port } = new URL(base);
  const socket = connect(Number(port), hostname);
  let text = '';
  return new Promise((resolve, reject) => {
    socket.on('error', reject);
    socket.setTimeout(5000, () => {
      socket.destroy();
      reject(new Error(`no whole answer in 5 s; heard: ${JSON.stringify(text)}`));
    });
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (heardAll(text, socket)) {
        socket.destroy();
        resolve(text);
      }
    });
    socket.write(sent);
  });
}
