// The spool's in-memory tail: the relay gets exactly the bytes on disk, in order, whether they
// come from memory or (after the tail overflowed, or after a restart) from the file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalLogReader, createLogger, encodeEvent, listSegments } from '@gatelog/core';
import { sampleEvent } from '../../../test/e2e/distributed-events.ts';
import { Spool } from './spool.ts';

const logger = createLogger('silent');
const id = (n: number): string => `0190d6a0-0000-7000-8000-${String(n).padStart(12, '0')}`;

/** Read everything from `from` the way the relay does, committing after each batch. */
async function drain(spool: Spool, batch: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (;;) {
    const r = spool.read(spool.committed, batch);
    if (r.records.length === 0) return out;
    out.push(...r.records);
    await spool.commit(r.next);
  }
}

describe('spool tail', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatelog-spool-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('serves just-appended records from memory, byte for byte what the file holds', async () => {
    const spool = new Spool({ dir, maxBytes: 1 << 30, logger, segmentBytes: 16 * 1024 });
    const events = Array.from({ length: 40 }, (_, i) => sampleEvent({ request_id: id(i) }));
    for (const e of events) spool.append(e);
    expect(spool.tailRecords(spool.committed)).toBe(40);
    const fromDisk = new LocalLogReader(join(dir, 'log')).read(0, 1000).records;
    const got = await drain(spool, 7);
    expect(got.map((b) => b.toString())).toEqual(fromDisk.map((b) => b.toString()));
    expect(got.map((b) => b.toString())).toEqual(events.map((e) => encodeEvent(e).toString()));
    // Once committed, the relayed sealed segments are gone: only the active one is left.
    expect(listSegments(join(dir, 'log'))).toHaveLength(1);
    expect(spool.lagBytes).toBe(0);
    spool.close();
  });

  it('falls back to the file when the tail is full, and returns to memory once caught up', async () => {
    const one = encodeEvent(sampleEvent({ request_id: id(999) })).length;
    const spool = new Spool({ dir, maxBytes: 1 << 30, logger, tailBytes: one * 5 + 10 });
    const events = Array.from({ length: 12 }, (_, i) => sampleEvent({ request_id: id(i) }));
    for (const e of events) spool.append(e);
    // Only the first five fit in memory; the rest must come from disk, in order, none lost.
    expect(spool.tailRecords(spool.committed)).toBe(5);
    const got = await drain(spool, 4);
    expect(got.map((b) => JSON.parse(b.toString()).request_id)).toEqual(events.map((e) => e.request_id));
    // Caught up: new appends are served from memory again.
    spool.append(sampleEvent({ request_id: id(100) }));
    expect(spool.tailRecords(spool.committed)).toBe(1);
    expect((await drain(spool, 4)).map((b) => JSON.parse(b.toString()).request_id)).toEqual([id(100)]);
    spool.close();
  });

  it('after a restart, reads what the previous process spooled but Kafka never acknowledged', async () => {
    const first = new Spool({ dir, maxBytes: 1 << 30, logger });
    for (let i = 0; i < 3; i++) first.append(sampleEvent({ request_id: id(200 + i) }));
    await first.commit(first.read(0, 1).next);
    first.close();
    const second = new Spool({ dir, maxBytes: 1 << 30, logger });
    expect(second.tailRecords(second.committed)).toBe(0);
    second.append(sampleEvent({ request_id: id(300) }));
    const ids = (await drain(second, 10)).map((b) => JSON.parse(b.toString()).request_id);
    expect(ids).toEqual([id(201), id(202), id(300)]);
    second.close();
  });
});
