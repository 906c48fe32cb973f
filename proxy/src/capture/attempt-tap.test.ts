import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { AttemptTap } from './attempt-tap.ts';

async function through(keep: number, chunks: Buffer[]): Promise<{ tap: AttemptTap; read: Buffer }> {
  const tap = new AttemptTap(keep, keep);
  const body = tap.received(200, { 'content-type': 'application/json' }, Readable.from(chunks, { objectMode: false }));
  const got: Buffer[] = [];
  for await (const c of body) got.push(c as Buffer);
  return { tap, read: Buffer.concat(got) };
}

describe('AttemptTap', () => {
  const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

  // The hash starts lazily (only once a byte is not kept), so every way of crossing `keep`
  // must still hash every byte, in order.
  it.each([
    ['all kept, one chunk', 1 << 20, [700]],
    ['all kept, many chunks', 1 << 20, [100, 1, 300, 4000]],
    ['nothing kept', 0, [100, 200, 300]],
    ['cap crossed inside a chunk', 250, [100, 100, 100, 100]],
    ['cap reached exactly, then more', 200, [100, 100, 50]],
    ['first chunk over the cap', 10, [5000, 10]],
  ])('%s: the digest covers every byte and only `keep` bytes are kept', async (_name, keep, sizes) => {
    const chunks = sizes.map((n) => randomBytes(n));
    const all = Buffer.concat(chunks);
    const { tap, read } = await through(keep, chunks);
    expect(read.equals(all)).toBe(true);
    expect(tap.responseBytes).toBe(all.length);
    expect(tap.responseSha256()).toBe(sha(all));
    expect(tap.complete).toBe(all.length <= keep);
    expect(Buffer.from(tap.responseText(), 'utf8').length).toBeLessThanOrEqual(Math.min(keep, all.length) * 3);
    if (all.length <= keep) expect(tap.responseText()).toBe(all.toString('utf8'));
  });

  it('ignores bytes that arrive after the digest was taken', async () => {
    const tap = new AttemptTap(1 << 20);
    const src = new Readable({ read() {} });
    const body = tap.received(200, {}, src);
    body.resume();
    src.push(Buffer.from('{"a":1}'));
    await new Promise((r) => setImmediate(r));
    const first = tap.responseSha256();
    src.push(Buffer.from('late'));
    src.push(null);
    await new Promise((r) => body.once('end', r));
    expect(first).toBe(sha(Buffer.from('{"a":1}')));
    expect(tap.responseSha256()).toBe(first);
    expect(tap.responseBytes).toBe(7);
  });
});
