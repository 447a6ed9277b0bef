import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

const BLOCK = 1024 * 1024;
const WORDS = 'task forge storage queue worker priority retry timeout chunk frame header cipher key salt nonce tag stream object path backend cache hit miss event status pending running completed failed error code value json text bytes the a of and to in is for on with as by at from'.split(' ');

/** 1 MiB of text from random words: compressible like prose or logs, not trivially. */
function textBlock(): Buffer {
  const parts: string[] = [];
  let length = 0;
  let line = 0;
  while (length < BLOCK) {
    const words = Array.from({ length: 8 + (line % 9) }, () => WORDS[Math.floor(Math.random() * WORDS.length)] ?? 'x');
    const sentence = `${String(line).padStart(8, '0')} ${words.join(' ')}.\n`;
    parts.push(sentence);
    length += sentence.length;
    line += 1;
  }
  return Buffer.from(parts.join('')).subarray(0, BLOCK);
}

/**
 * `sizeMiB` of mixed data, half random and half text, alternating 1 MiB
 * blocks, made on the fly from 8 prepared blocks so the source holds ~8 MiB.
 */
export function mixedSource(sizeMiB: number): Readable {
  const randoms = Array.from({ length: 4 }, () => randomBytes(BLOCK));
  const texts = Array.from({ length: 4 }, () => textBlock());
  let index = 0;
  return new Readable({
    highWaterMark: BLOCK,
    read() {
      if (index >= sizeMiB) {
        this.push(null);
        return;
      }
      const pool = index % 2 === 0 ? randoms : texts;
      this.push(pool[Math.floor(index / 2) % pool.length]);
      index += 1;
    },
  });
}
