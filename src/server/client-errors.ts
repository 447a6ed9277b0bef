import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { ErrorCode } from '../core/errors.js';
import { errorBody, type ErrorBody } from './http-errors.js';

/** Node's errors for a request it could not parse, by what the client did. */
function refusalOf(error: NodeJS.ErrnoException, maxHeaderBytes: number): { status: number; body: ErrorBody } {
  if (error.code === 'HPE_HEADER_OVERFLOW') return { status: 431, body: errorBody(ErrorCode.LIMIT_EXCEEDED, `request: its headers are over ${String(maxHeaderBytes)} bytes`) };
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return { status: 408, body: errorBody(ErrorCode.TIMEOUT, 'request: not received in time') };
  return { status: 400, body: errorBody(ErrorCode.VALIDATION_ERROR, `request: not valid HTTP (${error.code ?? error.message})`) };
}

/**
 * Answers a request Node refused before any route saw it (headers too large,
 * malformed HTTP) in the shape of every other error, `{ error: { code,
 * message } }`, and closes the connection; a connection already gone is
 * left alone.
 */
export function clientErrorHandler(maxHeaderBytes: number): (error: NodeJS.ErrnoException, socket: Socket) => void {
  return (error, socket) => {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    if (socket.writable) {
      const { status, body } = refusalOf(error, maxHeaderBytes);
      const text = JSON.stringify(body);
      socket.write(`HTTP/1.1 ${String(status)} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${String(Buffer.byteLength(text))}\r\n\r\n${text}`);
    }
    socket.destroy();
  };
}
