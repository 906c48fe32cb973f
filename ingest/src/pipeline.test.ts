// The pipeline joins every insert body into one reused buffer. Over HTTP a failed insert's
// body may still be held (and sent) by the client, so the retry must not write into it; a
// successful insert's buffer is reused by the next write.
import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { createLogger, type Store } from '@gatelog/core';
import { createIngestMetrics } from './metrics.ts';
import { createPipeline, type PipelinePart } from './pipeline.ts';

function fakeStore(kind: Store['kind'], failFirst: number): { store: Store; bodies: { body: Buffer; copy: Buffer }[] } {
  const bodies: { body: Buffer; copy: Buffer }[] = [];
  let calls = 0;
  const store = {
    kind,
    database: 'gatelog',
    // No erasure was ever recorded (erasure-guard.ts reads them before and after each write).
    client: { query: async () => ({ json: async () => [] }) },
    insertRaw(_table: string, rows: Buffer) {
      bodies.push({ body: rows, copy: Buffer.from(rows) });
      return ++calls <= failFirst ? Promise.reject(Object.assign(new Error('connection reset'), { code: 'ECONNRESET' })) : Promise.resolve();
    },
  } as unknown as Store;
  return { store, bodies };
}

function part(from: number, n: number): PipelinePart {
  const records = Array.from({ length: n }, (_, i) => Buffer.from(`{"i":${from + i},"pad":"${'x'.repeat(from + i)}"}`));
  return { records, rows: n, bytes: records.reduce((s, r) => s + r.length + 1, 0) };
}

async function writeAll(kind: Store['kind'], failFirst: number): Promise<{ body: Buffer; copy: Buffer }[]> {
  const { store, bodies } = fakeStore(kind, failFirst);
  let token = 0;
  const queue = createPipeline<PipelinePart>({
    source: { tokenFor: () => `t${token++}`, deadLetter: async () => {}, commit: async () => {} },
    store,
    logger: createLogger('silent'),
    metrics: createIngestMetrics(new Registry()),
    batch: { maxRows: 10, maxBytes: 1 << 20, lingerMs: 1 },
    retry: { baseMs: 1, maxMs: 1 },
  });
  queue.add(part(0, 10));
  await queue.drain();
  queue.add(part(20, 5));
  await queue.drain();
  await queue.close();
  return bodies;
}

describe('pipeline insert bodies', () => {
  it('over HTTP, leaves a failed insert\'s body untouched while the retry and later writes go on', async () => {
    const bodies = await writeAll('http', 1);
    expect(bodies).toHaveLength(3);
    // The failed body still holds its own bytes; the retry sent the same rows from another buffer.
    expect(bodies[0]!.body.equals(bodies[0]!.copy)).toBe(true);
    expect(bodies[1]!.body.buffer).not.toBe(bodies[0]!.body.buffer);
    expect(bodies[1]!.copy.equals(bodies[0]!.copy)).toBe(true);
    // After a success the buffer is reused.
    expect(bodies[2]!.body.buffer).toBe(bodies[1]!.body.buffer);
    expect(bodies[2]!.copy.toString().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { i: number }).i)).toEqual([20, 21, 22, 23, 24]);
  });

  it('embedded (chDB is done with the bytes once the insert settled), reuses the buffer even after a failure', async () => {
    const bodies = await writeAll('embedded', 1);
    expect(bodies).toHaveLength(3);
    expect(new Set(bodies.map((b) => b.body.buffer)).size).toBe(1);
    expect(bodies[1]!.copy.equals(bodies[0]!.copy)).toBe(true);
  });
});
