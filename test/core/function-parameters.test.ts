import { describe, expect, it } from 'vitest';
import { declaresParameters } from '../../src/core/function-parameters.js';

describe('declaresParameters', () => {
  it('is false only for functions that cannot see their arguments', () => {
    class Methods {
      none(): number {
        return 1;
      }
      async noneAsync(): Promise<number> {
        return Promise.resolve(2);
      }
      one(signal: AbortSignal): boolean {
        return signal.aborted;
      }
      withDefault(limit = 3): number {
        return limit;
      }
      rest(...args: unknown[]): number {
        return args.length;
      }
      readsArguments(): number {
        return arguments.length;
      }
    }
    const method = (name: keyof Methods): ((...args: never[]) => unknown) => (Object.getOwnPropertyDescriptor(Methods.prototype, name)?.value ?? (() => 0)) as (...args: never[]) => unknown;
    expect(declaresParameters(method('none'))).toBe(false);
    expect(declaresParameters(method('noneAsync'))).toBe(false);
    expect(declaresParameters(() => 1)).toBe(false);
    expect(declaresParameters(function () {
      return 1;
    })).toBe(false);
    expect(declaresParameters(method('one'))).toBe(true);
    expect(declaresParameters(method('withDefault'))).toBe(true);
    expect(declaresParameters(method('rest'))).toBe(true);
    expect(declaresParameters(method('readsArguments'))).toBe(true);
    // Source not shown: taken to see its arguments.
    expect(declaresParameters(method('none').bind(new Methods()))).toBe(true);
    expect(declaresParameters(Math.max)).toBe(true);
  });
});
