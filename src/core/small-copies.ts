/** Copies up to this size come from a shared slab; larger ones get their own memory. */
const MAX_POOLED_BYTES = 64 * 1024;
const SLAB_BYTES = 1024 * 1024;

let slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
let used = 0;

/**
 * A private copy of `bytes` that the caller may change freely. Small copies
 * are cut from a shared 1 MiB slab, as Node's own buffer pool does for
 * buffers under 4 KiB: giving a cached 4 KiB read its own ArrayBuffer costs
 * more than the rest of serving it. Copies never overlap; a slab is freed
 * once no copy cut from it is alive.
 */
export function privateCopy(bytes: Uint8Array): Buffer {
  const size = bytes.byteLength;
  if (size > MAX_POOLED_BYTES) return Buffer.from(bytes);
  if (used + size > SLAB_BYTES) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    used = 0;
  }
  const copy = slab.subarray(used, used + size);
  copy.set(bytes);
  // Keep the next copy 8-byte aligned, as typed-array views over it may need.
  used += (size + 7) & ~7;
  return copy;
}
