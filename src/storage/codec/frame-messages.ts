import type { CompressionAlgorithm } from './container-format.js';
import type { FrameFailure } from './frame-codec.js';

/** Frame settings as they cross to a worker thread. */
export interface WireSettings {
  readonly algorithm: CompressionAlgorithm | 'none';
  readonly level: number;
  readonly chunkSize: number;
  readonly key?: Uint8Array;
  readonly context?: Uint8Array;
}

/** A job for a frame worker. */
export type FrameRequest =
  | { readonly id: number; readonly op: 'encode'; readonly settings: WireSettings; readonly index: number; readonly final: boolean; readonly chunk: Uint8Array }
  | { readonly id: number; readonly op: 'decode'; readonly settings: WireSettings; readonly index: number; readonly flags: number; readonly payload: Uint8Array; readonly tag?: Uint8Array };

/** A frame worker's answer. */
export type FrameResponse =
  | { readonly id: number; readonly ok: true; readonly flags: number; readonly payload: Uint8Array; readonly tag?: Uint8Array }
  | { readonly id: number; readonly ok: false; readonly failure: FrameFailure | 'error'; readonly message?: string };

/**
 * The memory that may be handed to the other thread instead of copied (a
 * copy would clone the whole ArrayBuffer behind a view anyway): any buffer
 * but a slice of Node's shared pool of small buffers, which others use too.
 */
export function transferable(bytes: Uint8Array): ArrayBuffer[] {
  const { buffer } = bytes;
  return buffer instanceof ArrayBuffer && buffer.byteLength > Buffer.poolSize ? [buffer] : [];
}
