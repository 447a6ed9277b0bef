// A worker thread that reads and encodes a tree's small files, batch by batch, for the
// pack writer of the thread that walks the tree (see file-encoders.ts).
import { workerData } from 'node:worker_threads';
import { ErrorCode, TaskforgeError } from '../../core/errors.js';
import { encodeWhole } from '../../storage/codec/whole-encoder.js';
import { readSmallFileSync } from '../../storage/file-source.js';
import { serveJobs } from '../../core/worker-jobs.js';
import type { EncodedFile, EncodeJob, EncodeReply, WorkerEncoding } from './file-encoders.js';

const encoding = workerData as WorkerEncoding;
const options = {
  ...(encoding.compression === undefined ? {} : { compression: encoding.compression }),
  ...(encoding.encryption === undefined ? {} : { encryption: { keyId: encoding.encryption.keyId, key: Buffer.from(encoding.encryption.key) } }),
};

// The batch's bytes are handed over, not copied.
serveJobs(async (job: EncodeJob) => {
  const reply = await encodeBatch(job);
  return { reply, transfer: [reply.bytes.buffer as ArrayBuffer] };
});

/** Every file of the batch read whole and encoded, one after another into one buffer; a file that fails says why. */
async function encodeBatch(job: EncodeJob): Promise<EncodeReply> {
  const parts: Buffer[] = [];
  const files: EncodedFile[] = [];
  let total = 0;
  for (const file of job.files) {
    try {
      const read = readSmallFileSync(file.host, file.path);
      let length = 0;
      for (const part of await encodeWhole(read.bytes, { ...options, kind: 'bytes', path: file.path })) {
        parts.push(part);
        length += part.byteLength;
      }
      files.push({ stored: true, offset: total, length, facts: read.facts });
      total += length;
    } catch (error) {
      const coded = error instanceof TaskforgeError ? error : new TaskforgeError(ErrorCode.IO_ERROR, `write of '${file.path}' failed: ${error instanceof Error ? error.message : String(error)}`);
      files.push({ stored: false, code: coded.code, message: coded.message, retryable: coded.retryable });
    }
  }
  // A buffer of its own (not a slice of Node's shared pool), so that it can be handed over.
  const bytes = Buffer.allocUnsafeSlow(total);
  let at = 0;
  for (const part of parts) at += part.copy(bytes, at);
  return { id: job.id, files, bytes };
}
