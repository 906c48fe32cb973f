// The export row counter against a byte-by-byte reference on random CSV: cells full of
// quotes, line ends inside cells, chunk splits anywhere and unaligned chunk offsets.
import { describe, expect, it } from 'vitest';
import { ExportRowCounter } from './export-queries.ts';

/** Deterministic PRNG (mulberry32), so a failure reproduces. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A CSV cell as ClickHouse writes a string: quoted, inner quotes doubled. */
function cell(rand: () => number): string {
  const alphabet = ['"', '\n', '\r\n', ',', 'a', 'b', '{', '}', ':', ' ', 'é'];
  let s = '';
  const len = Math.floor(rand() * 40);
  for (let i = 0; i < len; i++) s += alphabet[Math.floor(rand() * alphabet.length)];
  return `"${s.replaceAll('"', '""')}"`;
}

describe('ExportRowCounter', () => {
  it('counts CSV rows exactly however the bytes are split and aligned', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const rand = rng(seed);
      const rows = 1 + Math.floor(rand() * 60);
      let csv = '';
      for (let r = 0; r < rows; r++) csv += `${r},${cell(rand)},${cell(rand)},${rand() < 0.5 ? 'true' : 'false'}\r\n`;
      const bytes = Buffer.from(csv);
      for (let k = 0; k < 8; k++) {
        // Copy at an odd offset of a larger buffer, then feed random-sized pieces of it.
        const pad = Math.floor(rand() * 7);
        const big = Buffer.alloc(bytes.length + pad + 3);
        bytes.copy(big, pad);
        const view = big.subarray(pad, pad + bytes.length);
        const c = new ExportRowCounter('csv');
        for (let at = 0; at < view.length; ) {
          const n = 1 + Math.floor(rand() * 97);
          c.feed(view.subarray(at, at + n));
          at += n;
        }
        expect(c.rows, `seed ${seed}`).toBe(rows);
      }
    }
  });

  it('counts JSONL lines', () => {
    const c = new ExportRowCounter('jsonl');
    c.feed(Buffer.from('{"a":"x\\ny"}\n{"a'));
    c.feed(Buffer.from('":1}\n'));
    expect(c.rows).toBe(2);
  });
});
