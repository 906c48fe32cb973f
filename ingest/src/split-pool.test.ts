// The worker thread's split answers what splitRecord answers on this thread, for records that
// are views into larger buffers (as fetched), mixed with records it leaves as they came.
import { describe, expect, it } from 'vitest';
import { BlockWriter, splitRecord } from './body-blocks.ts';
import { splitInWorker } from './split-pool.ts';

const conversation = (turns: number, tag: string): string => JSON.stringify({
  model: 'gpt-4o',
  messages: Array.from({ length: turns }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `${tag} turn ${i} "q" café ✓ `.repeat(60) })),
});

describe('block split in the worker thread', () => {
  it('gives splitRecord\'s answer for each record, views of one fetched buffer included', async () => {
    const events = [
      { request_id: 'a', request_body: conversation(40, 'a'), request_parts: [] },
      { request_id: 'b', request_body: 'x'.repeat(40_000), request_parts: [] },
      { request_id: 'c', request_body: conversation(80, 'c'), request_parts: [], attempt_io: [{ request_body: '', request_set: { model: '"gpt-4o-2024-08-06"' } }] },
    ].map((e) => Buffer.from(JSON.stringify(e)));
    const fetched = Buffer.concat([Buffer.from('padding before'), ...events, Buffer.from('after')]);
    let at = 'padding before'.length;
    const views = events.map((e) => fetched.subarray(at, (at += e.length)));
    const got = await splitInWorker(views, 32 * 1024, []);
    const want = views.map((r) => splitRecord(r));
    expect(got.map((s) => s === null)).toEqual([false, true, false]);
    expect(got).toEqual(want);
    // The caller's buffer is still whole: records were copied to the worker, not moved.
    expect(fetched.length).toBeGreaterThan(0);
    expect(views[0]!.toString()).toBe(events[0]!.toString());
  });

  it('gives each part its own splits when one part was split on this thread meanwhile', async () => {
    const make = (tag: string): Buffer => Buffer.from(JSON.stringify({ request_id: tag, request_body: conversation(40, tag), request_parts: [] }));
    const a = { records: [make('a1'), make('a2')] };
    const b = { records: [make('b1')] };
    const want = [a, b].map((p) => p.records.map((r) => splitRecord(r)!.record.toString()));
    const w = new BlockWriter();
    const prepared = w.prepare([a, b]);
    w.split(a); // as write() would after an earlier prepare failed: `a` is split here first
    await prepared;
    expect(a.records.map(String)).toEqual(want[0]);
    expect(b.records.map(String)).toEqual(want[1]);
    expect(w.split(b).length).toBeGreaterThan(0);
  });
});
