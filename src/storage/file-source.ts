import { closeSync, constants, fstatSync, openSync, readSync, type BigIntStats } from 'node:fs';
import { ErrorCode, TaskforgeError } from '../core/errors.js';
import { errnoOf } from '../core/system-errors.js';
import { openFd, readFd } from './backends/fd-calls.js';
import type { ByteSource } from './content.js';
import { mtimeOf } from './file-times.js';

/** The most a read of a source file asks for at once; a small file is read in one call of its own size. */
const READ_BYTES = 1024 * 1024;

/** What a write read of its source file: the facts a tree's index records, so that an unchanged file is not read again. */
export interface SourceFileFacts {
  readonly size: number;
  readonly mtimeMs: number;
  readonly mode: number;
}

/**
 * A local file as a write's data (`metadata.file`). It is opened only when
 * the write reads it (a task waiting in a queue holds no descriptor), read
 * again from its start by a retry, and checked at its end: a file whose
 * size or modification time moved while it was read fails the write with
 * SOURCE_CHANGED before anything is committed, so that a torn copy is never
 * stored. `facts()` gives what was read, once the body has been.
 */
export function fileByteSource(file: string, path: string): ByteSource {
  let facts: SourceFileFacts | undefined;
  let openedSize: number | undefined;
  const body: AsyncIterable<Uint8Array> = {
    async *[Symbol.asyncIterator]() {
      facts = undefined;
      openedSize = undefined;
      const fd = await openFd(file, constants.O_RDONLY).catch((error: unknown) => {
        throw unreadable(error, file, path);
      });
      try {
        // fstat and close synchronously: they touch only the open file's inode,
        // and a trip through the thread pool costs more than they do. The reads go through the pool.
        // (Exact stats: the facts recorded are the mtime to the microsecond, see file-times.ts.)
        const before = fstatSync(fd, { bigint: true });
        if (!before.isFile()) throw new TaskforgeError(ErrorCode.SOURCE_ERROR, `write of '${path}' failed: its source '${file}' is not a regular file`, { retryable: false, details: { path, file } });
        const size = Number(before.size);
        openedSize = size;
        let done = 0;
        for (;;) {
          // One byte more than the size expected, so that a file that grew is noticed by this read, not only by the stat after it.
          const want = Math.min(READ_BYTES, Math.max(size - done + 1, 1));
          const chunk = Buffer.allocUnsafe(want);
          const { bytesRead } = await readFd(fd, chunk, 0, want, null);
          if (bytesRead === 0) break;
          done += bytesRead;
          // Longer than when it was opened: it is growing (a log being written). Stop now, rather than chase its end.
          if (done > size) throw changedWhileRead(path, file, `it grew past its ${String(size)} bytes while it was read`);
          yield bytesRead === want ? chunk : chunk.subarray(0, bytesRead);
          // Fewer bytes than asked of a regular file: its end was reached, and a read more would return none.
          if (bytesRead < want) break;
        }
        const after = fstatSync(fd, { bigint: true });
        if (done !== size || moved(before, after)) throw changedWhileRead(path, file, describeMove(before, after, done));
        facts = factsOf(after);
      } finally {
        closeSync(fd);
      }
    },
  };
  return { kind: 'bytes', body, oneShot: false, started: () => false, discard: () => undefined, facts: () => facts, openedSize: () => openedSize };
}

/**
 * A small local file's bytes and facts, read whole on this thread: open,
 * read, fstat and close, each a few microseconds on a cached file where a
 * trip through the thread pool costs tens of them. For a tree's small
 * files, read by the thousand in short slices of the event loop's time.
 * The same checks as {@link fileByteSource}: a file that grew, shrank or
 * was touched while read fails with SOURCE_CHANGED. A link found where the
 * walk saw a file is refused (never followed out of the tree).
 */
export function readSmallFileSync(file: string, path: string): { readonly bytes: Buffer; readonly facts: SourceFileFacts } {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    throw unreadable(error, file, path);
  }
  try {
    const before = fstatSync(fd, { bigint: true });
    if (!before.isFile()) throw new TaskforgeError(ErrorCode.SOURCE_ERROR, `write of '${path}' failed: its source '${file}' is not a regular file`, { retryable: false, details: { path, file } });
    const size = Number(before.size);
    // One byte more than its size, so that a file that grew is noticed by this read.
    const bytes = Buffer.allocUnsafe(size + 1);
    let done = 0;
    for (;;) {
      const read = readSync(fd, bytes, done, bytes.byteLength - done, null);
      if (read === 0) break;
      done += read;
      if (done > size) throw changedWhileRead(path, file, `it grew past its ${String(size)} bytes while it was read`);
    }
    const after = fstatSync(fd, { bigint: true });
    if (done !== size || moved(before, after)) throw changedWhileRead(path, file, describeMove(before, after, done));
    return { bytes: bytes.subarray(0, done), facts: factsOf(after) };
  } finally {
    closeSync(fd);
  }
}

function changedWhileRead(path: string, file: string, how: string): TaskforgeError {
  return new TaskforgeError(ErrorCode.SOURCE_CHANGED, `write of '${path}' failed: its source '${file}' changed while it was read (${how}); nothing was stored`, {
    retryable: false,
    details: { path, file },
  });
}

/** The facts a tree's index records of a file read: its size, mtime (to the microsecond) and mode. */
function factsOf(stats: BigIntStats): SourceFileFacts {
  return { size: Number(stats.size), mtimeMs: mtimeOf(stats), mode: Number(stats.mode) & 0o7777 };
}

/**
 * Whether the file changed between the two looks. The change time counts
 * as well as the size and modification time: a write in place whose
 * modification time is put back after (`rsync --inplace`, `touch -r`)
 * still moves it, and nothing but the system clock can set it back.
 */
function moved(before: BigIntStats, after: BigIntStats): boolean {
  return before.size !== after.size || before.mtimeNs !== after.mtimeNs || before.ctimeNs !== after.ctimeNs || before.ino !== after.ino;
}

function describeMove(before: BigIntStats, after: BigIntStats, read: number): string {
  if (before.size !== after.size || BigInt(read) !== before.size) return `size ${String(before.size)} when opened, ${String(read)} bytes read, ${String(after.size)} at the end`;
  if (before.mtimeNs !== after.mtimeNs) return 'its modification time moved';
  return 'it was written to or its attributes changed';
}

function unreadable(error: unknown, file: string, path: string): TaskforgeError {
  const errno = errnoOf(error);
  const why = errno === 'ELOOP' ? 'a link where a file was expected (a tree never follows one), or a loop of links' : errno === 'ENOENT' ? 'no such file' : errno === 'EACCES' || errno === 'EPERM' ? 'permission denied' : errno === 'EISDIR' ? 'it is a directory' : (errno ?? String(error));
  return new TaskforgeError(ErrorCode.SOURCE_ERROR, `write of '${path}' failed: its source '${file}' cannot be read: ${why}`, { cause: error, retryable: errno === 'EMFILE' || errno === 'EAGAIN', details: { path, file } });
}
