import { describe, expect, it } from 'vitest';
import { fromSystemError } from '../../src/core/system-errors.js';
import { TaskforgeError } from '../../src/core/errors.js';

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: from the OS, open '/host/path/x'`), { code });
}

describe('system errors become coded errors', () => {
  it.each([
    ['ENOENT', 'NOT_FOUND', false],
    ['EEXIST', 'ALREADY_EXISTS', false],
    ['EISDIR', 'IS_A_DIRECTORY', false],
    ['ENOTDIR', 'NOT_A_DIRECTORY', false],
    ['EACCES', 'PERMISSION_DENIED', false],
    ['EPERM', 'PERMISSION_DENIED', false],
    ['EROFS', 'PERMISSION_DENIED', false],
    ['ENOSPC', 'NO_SPACE', false],
    ['EDQUOT', 'NO_SPACE', false],
    ['EIO', 'IO_ERROR', false],
    ['ELOOP', 'PATH_OUTSIDE_ROOT', false],
    ['ENAMETOOLONG', 'VALIDATION_ERROR', false],
    ['EAGAIN', 'BACKEND_UNAVAILABLE', true],
    ['EBUSY', 'BACKEND_UNAVAILABLE', true],
    ['EMFILE', 'BACKEND_UNAVAILABLE', true],
    ['ENFILE', 'BACKEND_UNAVAILABLE', true],
    ['ECONNRESET', 'BACKEND_UNAVAILABLE', true],
    ['ETIMEDOUT', 'BACKEND_UNAVAILABLE', true],
    ['ECONNREFUSED', 'BACKEND_UNAVAILABLE', true],
    ['EHOSTUNREACH', 'BACKEND_UNAVAILABLE', true],
    ['ENOTFOUND', 'BACKEND_UNAVAILABLE', true],
    ['EAI_AGAIN', 'BACKEND_UNAVAILABLE', true],
  ])('%s gives %s (retryable: %s)', (code, expected, retryable) => {
    const error = fromSystemError(errno(code), { operation: 'write', path: '/data/x' });
    expect(error).toMatchObject({ code: expected, retryable, details: { path: '/data/x', errno: code } });
    expect(error.message).toContain("write of '/data/x' failed");
    // The storage path is named; the host path stays in the cause only.
    expect(error.message).not.toContain('/host/path');
  });

  it.each([
    ['ECONNREFUSED', 'the connection was refused (is the server running, on that port?)'],
    ['ECONNRESET', 'the connection was reset'],
    ['EPIPE', 'the connection was closed by the other end'],
    ['ETIMEDOUT', 'the operation timed out'],
    ['EMFILE', 'too many open files in this process'],
    ['ENFILE', 'too many open files on the system'],
    ['EAGAIN', 'the system is temporarily busy'],
    ['EROFS', 'the file system is read-only'],
    ['ENOTEMPTY', 'it is a directory that is not empty'],
    ['EFBIG', 'the file is too large for the file system'],
    ['EDQUOT', 'the disk quota is exhausted'],
    ['ENOTFOUND', 'the host name was not found (is it spelt right?)'],
    ['EHOSTUNREACH', 'the host is unreachable'],
  ])('%s is told in its own words, not its code\'s', (code, words) => {
    expect(fromSystemError(errno(code), { operation: 'read', path: '/a' }).message).toBe(`read of '/a' failed: ${words} (${code})`);
  });

  it('an errno taskforge does not know, or no errno at all, gives INTERNAL with the cause kept', () => {
    const unknown = fromSystemError(errno('EWHATEVER'), { operation: 'read', path: '/a' });
    expect(unknown).toMatchObject({ code: 'INTERNAL', retryable: false });
    expect(unknown.cause).toBeInstanceOf(Error);
    expect(fromSystemError(new Error('plain'), { operation: 'read', path: '/a' }).code).toBe('INTERNAL');
    expect(fromSystemError('a string', { operation: 'read', path: '/a' }).message).toContain('a string');
  });

  it('an error that already has a code passes through unchanged', () => {
    const coded = new TaskforgeError('TIMEOUT', 'slow');
    expect(fromSystemError(coded, { operation: 'read', path: '/a' })).toBe(coded);
  });
});
