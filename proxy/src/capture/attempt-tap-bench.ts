// What the attempt tap adds per call: the response read through the tee (hash + bounded copy)
// versus read directly, plus building the attempt_io element (request hash, same-as-the-call
// comparisons). Run: node proxy/src/capture/attempt-tap-bench.ts
import { PassThrough, Readable, pipeline } from 'node:stream';
import { AttemptTap } from './attempt-tap.ts';
import { attemptIo } from './attempt-io.ts';

const CHUNK = 16 * 1024;

function source(body: Buffer): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < body.length; i += CHUNK) parts.push(body.subarray(i, i + CHUNK));
  return Readable.from(parts, { objectMode: false });
}

async function drain(r: Readable): Promise<void> {
  for await (const _ of r) { /* read */ }
}

async function timeIt(n: number, f: () => Promise<void>): Promise<number> {
  for (let i = 0; i < Math.min(50, n); i++) await f();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await f();
  return ((performance.now() - t0) / n) * 1000;
}

for (const size of [1024, 1024 * 1024]) {
  const body = Buffer.alloc(size, 'a');
  const req = Buffer.alloc(size, 'b');
  const text = body.toString('utf8');
  const n = size > 100_000 ? 300 : 5000;
  // The same stream shape both ways (a pipeline through one Transform), so only the tap's work differs.
  const plain = await timeIt(n, async () => {
    const t = new PassThrough();
    pipeline(source(body), t, () => undefined);
    await drain(t);
  });
  const tee = await timeIt(n, async () => {
    const tap = new AttemptTap(16 * 1024 * 1024 + 32 * 1024);
    await drain(tap.received(200, { 'x-request-id': 'r' }, source(body)));
  });
  const taps: AttemptTap[] = [];
  for (let i = 0; i < 50; i++) {
    const tap = new AttemptTap(16 * 1024 * 1024 + 32 * 1024);
    tap.sent(req);
    await drain(tap.received(200, {}, source(body)));
    if (taps.length % 2 === 1) tap.clientBody = req;
    taps.push(tap);
  }
  const t0 = performance.now();
  // Each tap's response hash is computed once (memoized), as in a real call.
  // Half the taps forward the client's own request (request_same, as a passthrough), half a rewritten one.
  const reqText = req.toString('utf8');
  for (const tap of taps) attemptIo([tap], 1, { request: tap.clientBody ? reqText : 'other', response: text }, { bodyCap: 16 * 1024 * 1024 }, null);
  const build = ((performance.now() - t0) / taps.length) * 1000;
  console.log(`${size} B: tee adds ${(tee - plain).toFixed(1)} µs (stream ${plain.toFixed(1)} → ${tee.toFixed(1)}), attempt_io element ${build.toFixed(1)} µs`);
}
