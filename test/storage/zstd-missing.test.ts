import { describe, expect, it } from 'vitest';
import { repoModule, runScript } from '../helpers/child.js';

// A process in which zstd-napi cannot be imported, as on a machine where the
// optional package did not build: a module hook refuses to resolve it.
const hideZstd = `data:text/javascript,${encodeURIComponent(
  'export async function resolve(specifier, context, next) { if (specifier.startsWith("zstd-napi")) throw new Error("zstd-napi is not installed"); return next(specifier, context); }',
)}`;

describe('without the optional zstd-napi package', () => {
  it('compression: true falls back to gzip-1, an explicit zstd write is refused with UNSUPPORTED_OPTION and stores nothing', () => {
    const script = `
      import { register } from 'node:module';
      register(${JSON.stringify(hideZstd)});
      const { StorageTask, MemoryBackend } = await import('${repoModule('src/index.ts')}');
      const backend = new MemoryBackend();
      const run = (metadata) => new StorageTask({ type: 'storage', metadata }, { backend }).execute();
      const fallback = await run({ operation: 'write', path: '/a', data: 'x'.repeat(300000), options: { compression: true } });
      const raw = await run({ operation: 'read', path: '/a', options: { as: 'buffer' } });
      const stored = await backend.read('/a', { signal: new AbortController().signal });
      const head = [];
      for await (const chunk of stored.body) { head.push(chunk); break; }
      const zstd = await run({ operation: 'write', path: '/b', data: 'y'.repeat(300000), options: { compression: { algorithm: 'zstd' } } });
      const listing = await run({ operation: 'list', path: '/' });
      console.log(JSON.stringify({
        fallback: fallback.status,
        readBack: raw.data.length,
        compressionByte: Buffer.concat(head)[10],
        zstd: zstd.error?.code,
        names: listing.data.entries.map((entry) => entry.name),
      }));
    `;
    const child = runScript(script);
    expect(child.stderr).toBe('');
    expect(JSON.parse(child.stdout)).toEqual({ fallback: 'completed', readBack: 300000, compressionByte: 1, zstd: 'UNSUPPORTED_OPTION', names: ['a'] });
  });
});
