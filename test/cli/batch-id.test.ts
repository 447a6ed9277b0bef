import { describe, expect, it } from 'vitest';
import { batchIdPrefix } from '../../src/cli/batch-file.js';

describe('batch ids', () => {
  it('are the same whether a batch is hashed as its bytes or as its text, so a batch run before this change resumes under the same ids', () => {
    const batch = '{"type":"storage","metadata":{"operation":"write","path":"/naïve ✓.txt","data":"x"}}\n';
    expect(batchIdPrefix(Buffer.from(batch, 'utf8'))).toBe(batchIdPrefix(batch));
    expect(batchIdPrefix(batch)).toMatch(/^b[0-9a-f]{12}$/);
  });

  it('differ for different batches', () => {
    expect(batchIdPrefix(Buffer.from('a\n'))).not.toBe(batchIdPrefix(Buffer.from('b\n')));
  });
});
