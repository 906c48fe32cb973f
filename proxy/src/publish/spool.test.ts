// The spool, the event loop's side of the Kafka publisher: every event is in the file (where
// the relay thread reads it) before append returns; lag is what the relay has not acknowledged.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalLogReader, OffsetFile, RECORD_HEADER_BYTES, createLogger, encodeEvent, listSegments } from '@gatelog/core';
import { sampleEvent } from '../../../test/e2e/distributed-events.ts';
import { Spool } from './spool.ts';

const logger = createLogger('silent');
const id = (n: number): string => `0190d6a0-0000-7000-8000-${String(n).padStart(12, '0')}`;

describe('spool', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatelog-spool-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('holds each event in the file, in order, byte for byte its encoding, before append returns', () => {
    const spool = new Spool({ dir, maxBytes: 1 << 30, logger, segmentBytes: 16 * 1024 });
    const events = Array.from({ length: 40 }, (_, i) => sampleEvent({ request_id: id(i) }));
    const reader = new LocalLogReader(join(dir, 'log'));
    for (const [i, e] of events.entries()) {
      expect(spool.append(e)).toBe('spooled');
      // Already readable by another thread (the relay reads the file, not this process's memory).
      expect(reader.read(0, 1000).records).toHaveLength(i + 1);
    }
    expect(reader.read(0, 1000).records.map((b) => b.toString())).toEqual(events.map((e) => encodeEvent(e).toString()));
    expect(listSegments(join(dir, 'log')).length).toBeGreaterThan(1);
    spool.close();
  });

  it('counts as lag what the relay has not acknowledged, and keeps the acknowledged offset across a restart', async () => {
    const first = new Spool({ dir, maxBytes: 1 << 30, logger });
    for (let i = 0; i < 3; i++) first.append(sampleEvent({ request_id: id(200 + i) }));
    const total = first.writer.endOffset;
    expect(first.lagBytes).toBe(total);
    const one = new LocalLogReader(join(dir, 'log')).read(0, 1).next;
    // What the relay does once Kafka acknowledged the first record.
    await new OffsetFile(join(dir, 'relay.offset')).store(one);
    first.acknowledged(one);
    first.acknowledged(0); // an older acknowledgement never moves it back
    expect(first.committed).toBe(one);
    expect(first.lagBytes).toBe(total - one);
    first.close();
    const second = new Spool({ dir, maxBytes: 1 << 30, logger });
    expect(second.committed).toBe(one);
    expect(second.lagBytes).toBe(total - one);
    second.close();
  });

  it('records events without their bodies once the unacknowledged bytes pass maxBytes', () => {
    const one = encodeEvent(sampleEvent({ request_id: id(999) }, 2048)).length;
    const spool = new Spool({ dir, maxBytes: (one + RECORD_HEADER_BYTES) * 3, logger });
    const outcomes = Array.from({ length: 6 }, (_, i) => spool.append(sampleEvent({ request_id: id(i) }, 2048)));
    expect(outcomes.slice(0, 3)).toEqual(['spooled', 'spooled', 'spooled']);
    expect(outcomes.slice(3)).toEqual(['stripped', 'stripped', 'stripped']);
    expect(spool.full).toBe(true);
    const stored = new LocalLogReader(join(dir, 'log')).read(0, 100).records.map((b) => JSON.parse(b.toString()) as { request_id: string; request_body: string; truncated: boolean });
    expect(stored.map((e) => e.request_id)).toEqual(Array.from({ length: 6 }, (_, i) => id(i)));
    expect(stored.slice(3).every((e) => e.request_body === '' && e.truncated)).toBe(true);
    spool.close();
  });
});
