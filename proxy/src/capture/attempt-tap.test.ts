import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { AttemptTap } from './attempt-tap.ts';

/** A tap over a body the test pushes into by hand. */
function tapped(): { tap: AttemptTap; src: Readable; body: Readable } {
  const tap = new AttemptTap(1 << 20);
  const src = new Readable({ read() {} });
  return { tap, src, body: tap.received(200, {}, src) };
}

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
    const { tap, src, body } = tapped();
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

  describe('the body as read through the tap keeps the stream contract', () => {
    const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

    it('backpressure: an unread tee pauses the upstream body; reading it later gets every byte in order', async () => {
      const { tap, src, body } = tapped();
      const chunks = Array.from({ length: 64 }, () => randomBytes(16 * 1024));
      body.on('data', () => {}).pause();
      for (const c of chunks) src.push(c);
      await tick();
      expect(src.readableFlowing).toBe(false);
      expect(body.readableLength).toBeLessThanOrEqual(body.readableHighWaterMark + 16 * 1024);
      src.push(null);
      const got: Buffer[] = [];
      body.removeAllListeners('data');
      for await (const c of body) got.push(c as Buffer);
      expect(Buffer.concat(got).equals(Buffer.concat(chunks))).toBe(true);
      expect(tap.responseSha256()).toBe(sha(Buffer.concat(chunks)));
    });

    it("an upstream error reaches the reader as the tee's error", async () => {
      const { src, body } = tapped();
      const failed = new Promise<Error>((r) => body.once('error', r));
      body.resume();
      src.push(Buffer.from('part'));
      src.destroy(Object.assign(new Error('socket hang up'), { code: 'UND_ERR_SOCKET' }));
      expect(await failed).toMatchObject({ code: 'UND_ERR_SOCKET' });
      expect(body.destroyed).toBe(true);
    });

    it('an upstream body that closes before its end fails the tee (premature close), never a clean end', async () => {
      const { src, body } = tapped();
      let ended = false;
      body.on('end', () => (ended = true));
      const failed = new Promise<Error>((r) => body.once('error', r));
      body.resume();
      src.push(Buffer.from('part'));
      await tick();
      src.destroy();
      expect(await failed).toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
      expect(ended).toBe(false);
    });

    it('the reader going away before the end destroys the upstream body (aborting the request)', async () => {
      const { src, body } = tapped();
      body.resume();
      src.push(Buffer.from('part'));
      await tick();
      body.destroy();
      await tick();
      expect(src.destroyed).toBe(true);
    });

    it('an upstream error with nobody listening on the tee does not take the process down', async () => {
      const { src } = tapped();
      src.destroy(new Error('boom'));
      await tick();
      await tick();
      expect(src.destroyed).toBe(true);
    });
  });
});
