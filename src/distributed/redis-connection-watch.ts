import type { Redis } from 'ioredis';

/** A change of a queue's connection to its Redis server. */
export type RedisConnectionChange = { readonly connected: false; readonly reason: string } | { readonly connected: true };

/**
 * Tells `listener` once when `connection`, having been up, is lost (with
 * the last error it gave, if any), and once when it is up again; nothing
 * for each of the attempts in between (ioredis retries every few hundred
 * ms for as long as the server is away). Nothing either once `ended()`
 * says the connection was closed on purpose. Returns how to stop.
 */
export function watchConnection(connection: Redis, ended: () => boolean, listener: (change: RedisConnectionChange) => void): () => void {
  let up = connection.status === 'ready';
  let lastError: string | undefined;
  const onError = (error: Error): void => {
    lastError = error.message;
  };
  const onClose = (): void => {
    if (!up || ended()) return;
    up = false;
    listener({ connected: false, reason: lastError ?? 'the server closed the connection' });
  };
  const onReady = (): void => {
    lastError = undefined;
    if (up) return;
    up = true;
    listener({ connected: true });
  };
  connection.on('error', onError);
  connection.on('close', onClose);
  connection.on('ready', onReady);
  return () => {
    connection.off('error', onError);
    connection.off('close', onClose);
    connection.off('ready', onReady);
  };
}
