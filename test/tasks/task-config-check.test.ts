import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/core/errors.js';
import { isPlainlyValidTaskConfig, validTaskConfig } from '../../src/tasks/task-config-check.js';
import { taskConfigSchema } from '../../src/tasks/task-config.js';

/** Values of every kind a config field might be given, right and wrong. */
const anyValue = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.boolean(),
  fc.double(),
  fc.integer(),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -0),
  fc.string({ maxLength: 300 }),
  fc.constantFrom('noop', 'Noop', 'a.b-c_d', '', 'x'.repeat(257), 'x'.repeat(256)),
  fc.array(fc.oneof(fc.string({ maxLength: 4 }), fc.integer()), { maxLength: 3 }),
  fc.dictionary(fc.constantFrom('options', 'data', 'width'), fc.oneof(fc.integer(), fc.string(), fc.dictionary(fc.constantFrom('timeout', 'retries', 'x'), fc.oneof(fc.integer({ min: -2, max: 200 }), fc.double(), fc.string())))),
);

/** Each field right most of the time and anything at all the rest, so that both sides of the check are reached. */
const mostlyRight = <T,>(right: fc.Arbitrary<T>): fc.Arbitrary<unknown> => fc.oneof({ arbitrary: right, weight: 4 }, { arbitrary: anyValue, weight: 1 });

/** Configs near the shape every task has: right fields, wrong values, stray fields. */
const nearConfig = fc
  .tuple(
    fc.record(
      {
        type: mostlyRight(fc.constantFrom('noop', 'resize', 'a.b-c_d')),
        id: mostlyRight(fc.string({ minLength: 1, maxLength: 8 })),
        priority: mostlyRight(fc.double({ noNaN: true, noDefaultInfinity: true })),
        metadata: mostlyRight(fc.dictionary(fc.constantFrom('data', 'width'), fc.oneof(fc.integer(), fc.string()))),
        dependsOn: anyValue,
      },
      { requiredKeys: [] },
    ),
    fc.option(fc.constantFrom('priorty', 'options', '__proto__', 'constructor'), { freq: 4 }),
    anyValue,
  )
  .map(([config, stray, value]) => (stray === null ? config : Object.defineProperty({ ...config }, stray, { value, enumerable: true, writable: true, configurable: true })));

describe('the fast check of the fields every task has', () => {
  it('accepts only what the schema accepts, and the schema makes of it the config as given', () => {
    let accepted = 0;
    fc.assert(
      fc.property(nearConfig, (config) => {
        if (!isPlainlyValidTaskConfig(config)) return;
        accepted += 1;
        const parsed = taskConfigSchema.safeParse(config);
        expect(parsed.success).toBe(true);
        expect(parsed.data).toEqual(config);
      }),
      { numRuns: 20_000 },
    );
    // The generator reaches the accepted shapes often enough to test them.
    expect(accepted).toBeGreaterThan(200);
  });

  it('takes the common shapes itself (no schema run): type, id, priority and metadata without options', () => {
    for (const config of [{ type: 'noop' }, { id: 'a', type: 'noop', priority: -3.5 }, { type: 'resize', metadata: { width: 3, data: { deep: [1] } } }, { type: 'x', id: undefined, priority: undefined }]) {
      expect(isPlainlyValidTaskConfig(config)).toBe(true);
      expect(validTaskConfig(config, 'a')).toBe(config);
    }
  });

  it('leaves to the schema what it does not take, and the schema refuses what is wrong with a VALIDATION_ERROR naming the field', () => {
    const leftToSchema: unknown[] = [
      { type: 'noop', priorty: 3 },
      { type: 'Noop' },
      { type: 'noop', id: '' },
      { type: 'noop', priority: Number.NaN },
      { type: 'noop', metadata: [] },
      { type: 'noop', metadata: null },
      [],
      null,
      'noop',
    ];
    for (const config of leftToSchema) {
      expect(isPlainlyValidTaskConfig(config)).toBe(false);
      expect(() => validTaskConfig(config, 'a')).toThrow(expect.objectContaining({ code: ErrorCode.VALIDATION_ERROR }) as Error);
    }
    // An object of another prototype is the schema's to judge.
    expect(isPlainlyValidTaskConfig(Object.assign(Object.create({ inherited: true }) as object, { type: 'noop' }))).toBe(false);
    // Shapes it does not take but that are valid go through the schema, and pass.
    const valid = { type: 'noop', dependsOn: ['a'], metadata: { options: { timeout: 5, retries: 1 } } };
    expect(isPlainlyValidTaskConfig(valid)).toBe(false);
    expect(validTaskConfig(valid, 'a')).toEqual(valid);
  });
});
