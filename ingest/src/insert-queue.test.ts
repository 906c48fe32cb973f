import { describe, expect, it } from 'vitest';
import { createInsertQueue, type InsertQueueOptions, type QueuedPart } from './insert-queue.ts';

interface Part extends QueuedPart {
  id: number;
}

const part = (id: number, rows = 10): Part => ({ id, rows, bytes: rows * 100 });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function queueWith(over: Partial<InsertQueueOptions<Part>> = {}) {
  const writes: number[][] = [];
  const q = createInsertQueue<Part>({
    write: (parts) => {
      writes.push(parts.map((p) => p.id));
      return Promise.resolve();
    },
    maxRows: 100,
    maxBytes: 1 << 20,
    lingerMs: 30,
    retry: { baseMs: 5, maxMs: 20 },
    ...over,
  });
  return { q, writes };
}

describe('insert queue', () => {
  it('groups parts queued within the linger time into one write', async () => {
    const { q, writes } = queueWith();
    q.add(part(1));
    q.add(part(2));
    q.add(part(3));
    expect(writes).toEqual([]);
    await sleep(80);
    expect(writes).toEqual([[1, 2, 3]]);
    await q.close();
  });

  it('writes at once when maxRows are queued, and never more than maxRows in one write', async () => {
    const { q, writes } = queueWith({ lingerMs: 10_000 });
    for (let i = 0; i < 25; i++) q.add(part(i, 10));
    await q.drain();
    expect(writes.map((w) => w.length)).toEqual([10, 10, 5]);
    expect(writes.flat()).toEqual(Array.from({ length: 25 }, (_, i) => i));
    await q.close();
  });

  it('retries a failed write whole and in order; later parts wait behind it', async () => {
    let fail = 2;
    const seen: number[][] = [];
    const { q } = queueWith({
      lingerMs: 1,
      write: (parts) => {
        seen.push(parts.map((p) => p.id));
        return fail-- > 0 ? Promise.reject(new Error('store down')) : Promise.resolve();
      },
    });
    q.add(part(1));
    await sleep(5);
    q.add(part(2));
    await q.drain();
    expect(seen).toEqual([[1], [1], [1], [2]]);
    await q.close();
  });

  it('holds producers back while full, and lets them in once a write frees room', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { q } = queueWith({ lingerMs: 1, write: () => gate });
    for (let i = 0; i < 30; i++) q.add(part(i, 10)); // 10 rows in the write, 20 more queued
    await sleep(10);
    expect(q.hasRoom()).toBe(false);
    const t0 = Date.now();
    await q.waitForRoom(20); // times out: still full
    expect(Date.now() - t0).toBeGreaterThanOrEqual(15);
    const room = q.waitForRoom(5_000);
    release();
    await room;
    expect(q.hasRoom()).toBe(true);
    await q.drain();
    await q.close();
  });

  it('after abandon() a failing write is given up, not committed, and drain returns', async () => {
    const abandoned: number[] = [];
    const { q } = queueWith({
      lingerMs: 1,
      write: () => Promise.reject(new Error('store down')),
      retry: { baseMs: 10_000, maxMs: 10_000 },
      onAbandon: (_err, info) => abandoned.push(info.rows),
    });
    q.add(part(1, 7));
    await sleep(20); // now waiting 10 s before its retry
    const drained = q.drain();
    q.abandon();
    await drained;
    expect(abandoned).toEqual([7]);
    await q.close();
  });

  it('after a write is given up, nothing queued behind it is written (no commit may pass it)', async () => {
    const written: number[][] = [];
    const abandoned: number[] = [];
    const { q } = queueWith({
      lingerMs: 1,
      maxRows: 10,
      write: (parts) => {
        if (parts.some((p) => p.id === 1)) return Promise.reject(new Error('store down'));
        written.push(parts.map((p) => p.id));
        return Promise.resolve();
      },
      retry: { baseMs: 10_000, maxMs: 10_000 },
      onAbandon: (_err, info) => abandoned.push(info.rows),
    });
    q.add(part(1, 10));
    q.add(part(2, 10));
    q.add(part(3, 10));
    await sleep(20);
    const drained = q.drain();
    q.abandon();
    await drained;
    expect(written).toEqual([]);
    expect(abandoned).toEqual([10, 10, 10]);
    await q.close();
  });

  it('discard() drops what is queued and gives up a failing write in its backoff, then writes what comes next', async () => {
    let down = true;
    const written: number[][] = [];
    const { q } = queueWith({
      lingerMs: 1,
      maxRows: 10,
      write: (parts) => {
        if (down) return Promise.reject(new Error('store down'));
        written.push(parts.map((p) => p.id));
        return Promise.resolve();
      },
      retry: { baseMs: 10_000, maxMs: 10_000 },
    });
    q.add(part(1, 10));
    q.add(part(2, 10));
    q.add(part(3, 10));
    await sleep(20); // part 1's write failed and waits 10 s before its retry
    const t0 = Date.now();
    expect((await q.discard()).map((p) => p.id)).toEqual([1, 2, 3]);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(q.pending()).toEqual({ rows: 0, bytes: 0, parts: 0, writing: false });
    down = false;
    q.add(part(4, 10));
    await q.drain();
    expect(written).toEqual([[4]]);
    await q.close();
  });

  it('discard() waits for a write in flight: one that lands stays written and is not returned', async () => {
    let release: () => void = () => undefined;
    const written: number[][] = [];
    const { q } = queueWith({
      lingerMs: 1,
      maxRows: 10,
      write: async (parts) => {
        await new Promise<void>((r) => (release = r));
        written.push(parts.map((p) => p.id));
      },
    });
    q.add(part(1, 10));
    q.add(part(2, 10));
    await sleep(20); // part 1 in flight, part 2 queued
    let settled = false;
    const discarding = q.discard().then((left) => {
      settled = true;
      return left;
    });
    await sleep(30);
    expect(settled).toBe(false);
    release();
    expect((await discarding).map((p) => p.id)).toEqual([2]);
    expect(written).toEqual([[1]]);
    await q.close();
  });

  it('ignores parts added after close', async () => {
    const { q, writes } = queueWith();
    q.add(part(1));
    await q.close();
    q.add(part(2));
    await sleep(50);
    expect(writes).toEqual([[1]]);
  });
});
