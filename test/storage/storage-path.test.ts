import { describe, expect, it } from 'vitest';
import { isTaskforgeError } from '../../src/core/errors.js';
import { parseStoragePath } from '../../src/storage/storage-path.js';

function codeOf(raw: string): string | undefined {
  try {
    parseStoragePath(raw);
    return undefined;
  } catch (error) {
    return isTaskforgeError(error) ? error.code : 'NOT_CODED';
  }
}

describe('storage paths', () => {
  it('normalise to one leading slash and no trailing slash', () => {
    expect(parseStoragePath('/data/file.txt')).toBe('/data/file.txt');
    expect(parseStoragePath('data/file.txt')).toBe('/data/file.txt');
    expect(parseStoragePath('/data/dir/')).toBe('/data/dir');
    expect(parseStoragePath('/')).toBe('/');
    expect(parseStoragePath('')).toBe('/');
  });

  it('keep names with dots, spaces, unicode and backslashes as they are', () => {
    expect(parseStoragePath('/a/.hidden')).toBe('/a/.hidden');
    expect(parseStoragePath('/a/..double')).toBe('/a/..double');
    expect(parseStoragePath('/a/naïve name ✓')).toBe('/a/naïve name ✓');
    expect(parseStoragePath('/a\\b')).toBe('/a\\b');
  });

  it.each([
    ['/..', 'PATH_OUTSIDE_ROOT'],
    ['../x', 'PATH_OUTSIDE_ROOT'],
    ['/a/../../x', 'PATH_OUTSIDE_ROOT'],
    ['/a/..', 'PATH_OUTSIDE_ROOT'],
    ['/a/./b', 'PATH_OUTSIDE_ROOT'],
    ['//a', 'PATH_OUTSIDE_ROOT'],
    ['/a//b', 'PATH_OUTSIDE_ROOT'],
    ['/a/b//', 'PATH_OUTSIDE_ROOT'],
    ['/a\0b', 'PATH_OUTSIDE_ROOT'],
    ['/a\u001b[2Jb', 'VALIDATION_ERROR'],
    ['/evil\nFAKE LINE', 'VALIDATION_ERROR'],
    ['/a\rb', 'VALIDATION_ERROR'],
    ['/a\u007fb', 'VALIDATION_ERROR'],
    ['/a\u009bb', 'VALIDATION_ERROR'],
    ['/.taskforge-meta-x', 'VALIDATION_ERROR'],
    ['/a/.taskforge-tmp-1/b', 'VALIDATION_ERROR'],
  ])('%j is refused with %s', (raw, code) => {
    expect(codeOf(raw)).toBe(code);
  });

  it('a control character is refused, and the message shows it escaped (never the raw byte, which would reach a terminal or a log as it is)', () => {
    try {
      parseStoragePath('/evil\u001b[2Jname\nx');
      expect.unreachable();
    } catch (error) {
      expect(isTaskforgeError(error) && error.message).toBe("path '/evil\\u001b[2Jname\\nx' is refused: it contains a control character (U+001B), which would reach terminals and logs as it is");
    }
    // Tabs are control characters too; a name with an accent or a symbol is not.
    expect(codeOf('/a\tb')).toBe('VALIDATION_ERROR');
    expect(parseStoragePath('/é ✓ \u00a0x')).toBe('/é ✓ \u00a0x');
  });

  it('the refusal message names the path and the reason', () => {
    try {
      parseStoragePath('/a/../b');
      expect.unreachable();
    } catch (error) {
      expect(String(error)).toContain("'/a/../b'");
      expect(String(error)).toContain("'..'");
    }
  });
});
