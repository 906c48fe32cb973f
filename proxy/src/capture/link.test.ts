import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readThrough } from './link.ts';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

async function readAllOf(r: Readable): Promise<string> {
  let s = '';
  for await (const c of r) s += (c as Buffer).toString();
  return s;
}

describe('readThrough', () => {
  it('passes each mapped chunk in order, drops empty ones, and appends what the end returns', async () => {
    const src = Readable.from(['a', 'skip', 'b', 'c'].map((s) => Buffer.from(s)), { objectMode: false });
    const out = readThrough(src, {
      chunk: (c) => (c.toString() === 'skip' ? Buffer.alloc(0) : Buffer.from(c.toString().toUpperCase())),
      end: () => Buffer.from('!'),
    });
    expect(await readAllOf(out)).toBe('ABC!');
  });

  it('a map that throws fails the stream with its error and destroys the source (the upstream request is aborted)', async () => {
    const src = new Readable({ read() {} });
    const out = readThrough(src, {
      chunk: (c) => {
        if (c.toString() === 'bad') throw Object.assign(new Error('event too large'), { code: 'TOO_LARGE' });
        return c;
      },
    });
    const failed = new Promise<Error>((r) => out.once('error', r));
    out.resume();
    src.push(Buffer.from('ok'));
    src.push(Buffer.from('bad'));
    expect(await failed).toMatchObject({ code: 'TOO_LARGE' });
    await tick();
    expect(src.destroyed).toBe(true);
  });

  it('an end that throws fails the stream instead of ending it cleanly', async () => {
    const src = Readable.from([Buffer.from('x')], { objectMode: false });
    const out = readThrough(src, { chunk: (c) => c, end: () => { throw new Error('cut mid-event'); } });
    let ended = false;
    out.on('end', () => (ended = true));
    const failed = new Promise<Error>((r) => out.once('error', r));
    out.resume();
    expect((await failed).message).toBe('cut mid-event');
    expect(ended).toBe(false);
  });
});
