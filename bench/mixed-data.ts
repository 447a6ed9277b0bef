import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

const BLOCK = 1024 * 1024;
const WORDS = 'task forge storage queue worker priority retry timeout chunk frame header cipher key salt nonce tag stream object path backend cache hit miss event status pending running completed failed error code value json text bytes the a of and to in is for on with as by at from'.split(' ');

/** 1 MiB of text from random words: compressible like prose or logs, not trivially. Written straight into a Buffer. */
function textBlock(): Buffer {
  const block = Buffer.alloc(BLOCK);
  let offset = 0;
  for (let line = 0; offset < BLOCK; line += 1) {
    offset += block.write(`${String(line).padStart(8, '0')} `, offset);
    for (let word = 0; word < 8 + (line % 9) && offset < BLOCK; word += 1) {
      offset += block.write(`${WORDS[Math.floor(Math.random() * WORDS.length)] ?? 'x'} `, offset);
    }
    if (offset < BLOCK) offset += block.write('.\n', offset);
  }
  return block;
}

/**
 * `sizeMiB` of mixed data, half random and half text, alternating 1 MiB
 * blocks, made on the fly from 4 prepared blocks so the source holds ~4 MiB
 * and costs no CPU; with `unique`, every block is made fresh instead.
 */
export function mixedSource(sizeMiB: number, unique = false): Readable {
  const randoms = Array.from({ length: 2 }, () => randomBytes(BLOCK));
  const texts = Array.from({ length: 2 }, () => textBlock());
  return blockSource(sizeMiB, (index) => {
    // With `unique`, every block is new: a deduplicating tool (restic) must not find repeats to skip.
    if (unique) return index % 2 === 0 ? randomBytes(BLOCK) : textBlock();
    const pool = index % 2 === 0 ? randoms : texts;
    return pool[Math.floor(index / 2) % pool.length] ?? BLOCK_OF_ZEROS;
  });
}

const BLOCK_OF_ZEROS = Buffer.alloc(BLOCK);

/** A stream of `count` 1 MiB blocks, the index-th made by `blockAt(index)` when it is read. */
export function blockSource(count: number, blockAt: (index: number) => Buffer): Readable {
  let index = 0;
  return new Readable({
    highWaterMark: BLOCK,
    read() {
      if (index >= count) {
        this.push(null);
        return;
      }
      this.push(blockAt(index));
      index += 1;
    },
  });
}
