// A worker thread that compresses chunks with zstd at the slow levels, for
// the event loop of the thread that writes them (see zstd-threads.ts).
import { createRequire } from 'node:module';
import { serveJobs } from '../../core/worker-jobs.js';
import type { ZstdBinding } from './zstd.js';
import type { ZstdJob, ZstdReply } from './zstd-threads.js';

const binding = createRequire(import.meta.url)('zstd-napi/binding.js') as ZstdBinding;
const compressor = new binding.CCtx();
let scratch = new Uint8Array(0);

// The compressed bytes are handed over, not copied; a chunk that does not shrink comes back as none.
serveJobs((job: ZstdJob) => {
  const bound = binding.compressBound(job.chunk.byteLength);
  if (scratch.byteLength < bound) scratch = new Uint8Array(bound);
  const written = compressor.compress(scratch, job.chunk, job.level);
  if (written >= job.chunk.byteLength) return Promise.resolve({ reply: { id: job.id, compressed: undefined } satisfies ZstdReply });
  const compressed = scratch.slice(0, written);
  return Promise.resolve({ reply: { id: job.id, compressed } satisfies ZstdReply, transfer: [compressed.buffer] });
});
