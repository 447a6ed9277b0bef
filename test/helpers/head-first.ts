import { connect } from 'node:net';

/**
 * Sends a request's head (`request` is its method and path; no body yet) on a raw connection and returns
 * what the server answers before any byte of the body is sent; when it
 * answers 100 Continue, sends `body` and returns the whole exchange.
 */
export async function headFirst(base: string, request: string, headers: Record<string, string>, body: string | Buffer): Promise<string> {
  const { hostname, port } = new URL(base);
  const socket = connect(Number(port), hostname);
  let text = '';
  const head = Object.entries({ host: `${hostname}:${port}`, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...headers })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.write(`${request} HTTP/1.1\r\n${head}\r\n`);
  return new Promise((resolve, reject) => {
    socket.on('error', reject);
    socket.setTimeout(5000, () => {
      socket.destroy();
      reject(new Error(`no final answer in 5 s; heard: ${JSON.stringify(text)}`));
    });
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text === 'HTTP/1.1 100 Continue\r\n\r\n') {
        socket.write(body);
        return;
      }
      // A final answer (its JSON body ends with '}').
      if (/^HTTP\/1\.1 [2-5]\d\d /m.test(text.replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, '')) && text.trimEnd().endsWith('}')) {
        socket.destroy();
        resolve(text);
      }
    });
  });
}
