import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPlainlyValidStorageConfig } from '../../src/tasks/storage-config-check.js';
import { storageTaskConfigSchema } from '../../src/tasks/storage-task-config.js';

/** Values of every kind a field might be given, right and wrong. */
const anyValue = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.boolean(),
  fc.double(),
  fc.integer({ min: -5, max: 200 }),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -0, 2_147_483_648, 1.5),
  fc.string({ maxLength: 20 }),
  fc.constantFrom('', 'x'.repeat(4096), 'x'.repeat(4097), 'storage', 'write', 'gzip'),
  fc.uint8Array({ maxLength: 4 }),
  fc.array(fc.integer(), { maxLength: 2 }),
  fc.dictionary(fc.constantFrom('algorithm', 'level', 'ttlMs', 'a'), fc.oneof(fc.integer(), fc.string({ maxLength: 4 }))),
);

/** Each field right most of the time and anything at all the rest, so that both sides of the check are reached. */
const mostlyRight = <T,>(right: fc.Arbitrary<T>): fc.Arbitrary<unknown> => fc.oneof({ arbitrary: right, weight: 5 }, { arbitrary: anyValue, weight: 1 });

/** Which boolean options apply to which operation. */
const APPLIES: ReadonlyMap<string, readonly string[]> = new Map([
  ['read', ['encryption']],
  ['write', ['overwrite', 'encryption', 'compression']],
  ['delete', ['recursive']],
  ['list', ['recursive']],
]);

/** Options for `operation`: mostly ones that apply, at times one that does not, or one the fast check leaves to the schema. */
const optionsFor = (operation: string): fc.Arbitrary<unknown> =>
  fc.oneof(
    { arbitrary: fc.constant(undefined), weight: 2 },
    {
      arbitrary: fc
        .tuple(
          fc.subarray([...(APPLIES.get(operation) ?? [])]),
          fc.option(mostlyRight(fc.constantFrom('buffer', 'text', 'json', 'stream')), { freq: 3 }),
          fc.option(fc.constantFrom('overwrite', 'encryption', 'compression', 'recursive', 'as', 'limit', 'cache'), { freq: 3 }),
          fc.option(fc.integer({ min: 0, max: 60_000 }), { freq: 2 }),
          fc.option(fc.integer({ min: 0, max: 100 }), { freq: 2 }),
          mostlyRight(fc.boolean()),
        )
        .map(([keys, form, stray, timeout, retries, value]) => ({
          ...Object.fromEntries(keys.map((key) => [key, value])),
          ...(form === null ? {} : { as: form }),
          ...(stray === null ? {} : { [stray]: value }),
          ...(timeout === null ? {} : { timeout }),
          ...(retries === null ? {} : { retries }),
        })),
      weight: 5,
    },
    { arbitrary: anyValue, weight: 1 },
  );

/** A write's data, or none (a read, a delete, a list; or a write with a file). */
const dataFor = (operation: string): fc.Arbitrary<unknown> =>
  fc.oneof(
    { arbitrary: fc.constant(undefined), weight: operation === 'write' ? 1 : 6 },
    { arbitrary: fc.oneof(fc.string({ maxLength: 10 }), fc.uint8Array({ maxLength: 8 })), weight: operation === 'write' ? 6 : 1 },
    { arbitrary: anyValue, weight: 1 },
  );

/** Metadata near the common shapes for one operation. */
const metadata = mostlyRight(fc.constantFrom('read', 'write', 'delete', 'list')).chain((operation) => {
  const name = typeof operation === 'string' ? operation : 'other';
  return fc.record(
    {
      operation: fc.constant(operation),
      path: mostlyRight(fc.constantFrom('/a.txt', '/d/e', 'x', '/')),
      data: dataFor(name),
      file: fc.oneof({ arbitrary: fc.constant(undefined), weight: 4 }, { arbitrary: fc.constantFrom('./f.txt', '/abs/f', ''), weight: 1 }),
      options: optionsFor(name),
    },
    { requiredKeys: ['operation', 'path'] },
  );
});

/** Storage configs near the common shapes: right fields, wrong values, stray fields. */
const nearConfig = fc
  .tuple(
    fc.record(
      {
        type: mostlyRight(fc.constant('storage')),
        id: mostlyRight(fc.string({ minLength: 1, maxLength: 8 })),
        priority: mostlyRight(fc.double({ noNaN: true, noDefaultInfinity: true })),
        metadata: mostlyRight(metadata),
      },
      { requiredKeys: ['metadata'] },
    ),
    fc.option(fc.constantFrom('priorty', 'options', '__proto__', 'dependsOn', 'extra'), { freq: 5 }),
    anyValue,
  )
  .map(([config, stray, value]) => (stray === null ? config : Object.defineProperty({ ...config }, stray, { value, enumerable: true, writable: true, configurable: true })));

describe('the fast check of common storage configs', () => {
  it('accepts only what the schema accepts, and the schema makes of it the config as given', () => {
    let accepted = 0;
    fc.assert(
      fc.property(nearConfig, (config) => {
        if (!isPlainlyValidStorageConfig(config)) return;
        accepted += 1;
        const parsed = storageTaskConfigSchema.safeParse(config);
        expect(parsed.error?.issues, JSON.stringify(config)).toBeUndefined();
        expect(parsed.data).toEqual(config);
      }),
      { numRuns: 30_000 },
    );
    // The generator reaches the accepted shapes often enough to test them.
    expect(accepted).toBeGreaterThan(500);
  });

  it('takes the shapes a batch, a tree and a program write most', () => {
    for (const config of [
      { type: 'storage', metadata: { operation: 'write', path: '/w/1.txt', data: 'x'.repeat(4096) } },
      { type: 'storage', id: 'b1-1', priority: 2, metadata: { operation: 'write', path: '/t/a b.bin', file: '/src/a b.bin', options: { overwrite: true, compression: true, encryption: true } } },
      { type: 'storage', metadata: { operation: 'write', path: '/x', data: Buffer.from('x'), options: { retries: 3, timeout: 1000 } } },
      { type: 'storage', metadata: { operation: 'read', path: '/x', options: { encryption: true } } },
      { type: 'storage', metadata: { operation: 'read', path: '/t/a.txt', options: { as: 'buffer', encryption: true } } },
      { type: 'storage', metadata: { operation: 'read', path: '/x', options: { as: 'text', cache: true } } },
      { type: 'storage', metadata: { operation: 'delete', path: '/d', options: { recursive: true } } },
      { type: 'storage', metadata: { operation: 'list', path: '/' } },
    ]) {
      expect(isPlainlyValidStorageConfig(config), JSON.stringify(config)).toBe(true);
    }
  });

  it('leaves the rest to the schema: JSON data, compression settings, a form for a write, dependencies, wrong operations', () => {
    for (const config of [
      { type: 'storage', metadata: { operation: 'write', path: '/x', data: { a: 1 } } },
      { type: 'storage', metadata: { operation: 'write', path: '/x', data: 'x', options: { compression: { algorithm: 'gzip' } } } },
      { type: 'storage', metadata: { operation: 'write', path: '/x', data: 'x', options: { as: 'text' } } },
      { type: 'storage', dependsOn: ['a'], metadata: { operation: 'read', path: '/x' } },
      { type: 'storage', metadata: { operation: 'read', path: '/x', options: { overwrite: true } } },
      { type: 'storage', metadata: { operation: 'write', path: '/x', data: 'x', file: '/f' } },
      { type: 'storage', metadata: { operation: 'write', path: '/x' } },
    ]) {
      expect(isPlainlyValidStorageConfig(config), JSON.stringify(config)).toBe(false);
    }
  });
});
