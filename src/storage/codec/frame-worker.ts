// A worker thread that encodes and decodes frames, so compression and
// encryption use every core and never stall the event loop of the tasks.
import { parentPort } from 'node:worker_threads';
import { decodeFrameSync, encodeFrameSync, type FrameSettings } from './frame-codec.js';
import { transferable, type FrameRequest, type FrameResponse, type WireSettings } from './frame-messages.js';
import { loadZstd, type ZstdContexts } from './zstd.js';

let zstd: ZstdContexts | undefined;

function settingsOf(wire: WireSettings): FrameSettings {
  return {
    algorithm: wire.algorithm,
    level: wire.level,
    chunkSize: wire.chunkSize,
    ...(wire.key === undefined || wire.context === undefined ? {} : { secrets: { key: toBuffer(wire.key), context: toBuffer(wire.context) } }),
  };
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

async function handle(request: FrameRequest): Promise<{ response: FrameResponse; transfer: ArrayBuffer[] }> {
  if (request.settings.algorithm === 'zstd') zstd ??= await loadZstd();
  const settings = settingsOf(request.settings);
  if (request.op === 'encode') {
    const frame = encodeFrameSync(settings, zstd, request.index, request.final, toBuffer(request.chunk));
    const response: FrameResponse = { id: request.id, ok: true, flags: frame.flags, payload: frame.payload, ...(frame.tag === undefined ? {} : { tag: frame.tag }) };
    return { response, transfer: transferable(frame.payload) };
  }
  const result = decodeFrameSync(settings, zstd, request.index, request.flags, toBuffer(request.payload), request.tag === undefined ? undefined : toBuffer(request.tag));
  if (typeof result === 'string') return { response: { id: request.id, ok: false, failure: result }, transfer: [] };
  return { response: { id: request.id, ok: true, flags: request.flags, payload: result }, transfer: transferable(result) };
}

parentPort?.on('message', (request: FrameRequest) => {
  handle(request).then(
    ({ response, transfer }) => {
      parentPort?.postMessage(response, transfer);
    },
    (error: unknown) => {
      parentPort?.postMessage({ id: request.id, ok: false, failure: 'error', message: error instanceof Error ? error.message : String(error) } satisfies FrameResponse);
    },
  );
});
