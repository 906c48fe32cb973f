// Reads a body to its end but keeps at most `cap` bytes of it: error answers are buffered
// whole for retries and scrubbing, and an upstream must not make gatelog hold more.
import type { Readable } from 'node:stream';

export async function readCapped(body: Readable, cap: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of body as AsyncIterable<Buffer>) {
    if (n < cap) parts.push(c);
    n += c.length;
  }
  return Buffer.concat(parts);
}
