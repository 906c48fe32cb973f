import { afterAll, describe, expect, it } from 'vitest';
import { BYTES_PER_TOKEN, MAX_TOKENIZE_BYTES, closeTokenizer, countTokens, tokenizerWarm } from './token-estimate.ts';
import { countLinear } from './token-worker.ts';
import { countTokens as exact } from 'gpt-tokenizer';

afterAll(closeTokenizer);

/** How long the event loop went without a turn while `p` ran. */
async function worstStall(p: Promise<unknown>): Promise<number> {
  let worst = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 5);
  await p;
  clearInterval(timer);
  return worst;
}

describe('countLinear', () => {
  it('counts ordinary text exactly like gpt-tokenizer', () => {
    const text = 'The quick brown fox jumps over the lazy dog. Voilà: 42 œufs! ';
    expect(countLinear(text.repeat(20))).toBe(exact(text.repeat(20)));
  });

  it('counts a long whitespace-free run in linear time, close to the exact count', () => {
    let word = '';
    for (let i = 0; i < 4000; i++) word += String.fromCharCode(97 + ((i * 7919) % 26));
    const n = countLinear(word);
    const e = exact(word);
    expect(Math.abs(n - e) / e).toBeLessThan(0.1);
    const huge = word.repeat(64); // 256 KB: tens of seconds whole, milliseconds in pieces
    const t0 = performance.now();
    countLinear(huge);
    expect(performance.now() - t0).toBeLessThan(5000);
  });
});

describe('countTokens (worker pool)', () => {
  it('counts in a worker: the event loop keeps turning while a 500 KB word is counted', async () => {
    await countTokens(['warm up']);
    expect(tokenizerWarm()).toBe(true);
    let word = '';
    for (let i = 0; i < 500_000; i++) word += String.fromCharCode(97 + ((i * 7919) % 26));
    let counts: number[] = [];
    const stall = await worstStall(countTokens([word, 'hello world']).then((c) => (counts = c)));
    expect(stall).toBeLessThan(200);
    expect(counts[0]).toBeGreaterThan(500_000 / 8);
    expect(counts[1]).toBe(2);
  }, 60_000);

  it('degrades to a byte-based estimate above MAX_TOKENIZE_BYTES (no tokenizer at all)', async () => {
    const big = 'x'.repeat(MAX_TOKENIZE_BYTES + 1);
    const t0 = performance.now();
    const [n, empty] = await countTokens([big, '']);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(n).toBe(Math.ceil((MAX_TOKENIZE_BYTES + 1) / BYTES_PER_TOKEN));
    expect(empty).toBe(0);
  });
});
