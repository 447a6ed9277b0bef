import { fsync, open, read, writev } from 'node:fs';
import { promisify } from 'node:util';

// The calls on plain descriptors that may wait on the disk, as promises: they go through
// libuv's thread pool. (fstat, close and the like are made synchronously where they are used.)
export const openFd = promisify(open);
export const readFd = promisify(read);
export const writevFd = promisify(writev);
export const fsyncFd = promisify(fsync);
