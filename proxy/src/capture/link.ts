// `src` piped into `dst` with pipeline()'s error and teardown semantics for one hop, without its
// cost: pipeline() builds an AbortController per call and aborts it at every finish, and that
// allocates a DOMException with a captured stack — measurable on a path taken by every call.
//   - data and backpressure: src.pipe(dst);
//   - src fails, or closes before its end: dst is destroyed with that error (the reader sees it);
//   - dst is destroyed (the client went away) before src ended: src is destroyed, which aborts
//     the upstream request.
import type { Duplex, Readable } from 'node:stream';

export function prematureClose(): Error {
  return Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}

export const ignore = (): void => {};

export function link<T extends Duplex>(src: Readable, dst: T): T {
  // As with pipeline(): an error on dst goes to whoever reads it, never to the process.
  dst.on('error', ignore);
  src.pipe(dst);
  src.once('error', (err) => {
    if (!dst.destroyed) dst.destroy(err);
  });
  src.once('close', () => {
    if (!src.readableEnded && !dst.destroyed) dst.destroy(prematureClose());
  });
  dst.once('close', () => {
    if (!src.destroyed && !src.readableEnded) src.destroy();
  });
  return dst;
}
