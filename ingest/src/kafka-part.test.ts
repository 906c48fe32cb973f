// A batch fetched again after a rejoin is trimmed to the messages past what was handed on, and
// its parts still cover the batch up to its last offset (committing past them skips nothing).
import { describe, expect, it } from 'vitest';
import type { KafkaMessage } from 'kafkajs';
import { pastOffset, toParts, type FetchedBatch } from './kafka-part.ts';

const message = (offset: number): KafkaMessage =>
  ({ offset: String(offset), key: null, value: Buffer.from('{"request_id":"x"}'), headers: {}, timestamp: '0', attributes: 0 });

function batch(from: number, to: number, lastOffset = to): FetchedBatch {
  const messages: KafkaMessage[] = [];
  for (let o = from; o <= to; o++) messages.push(message(o));
  return { topic: 't', partition: 3, messages, firstOffset: () => (messages[0]?.offset ?? null), lastOffset: () => String(lastOffset) };
}

describe('pastOffset', () => {
  it('keeps only the messages past the offset handed on', () => {
    const b = pastOffset(batch(10, 19), 14n)!;
    expect(b.messages.map((m) => m.offset)).toEqual(['15', '16', '17', '18', '19']);
    expect(b.firstOffset()).toBe('15');
    expect(b.lastOffset()).toBe('19');
    expect(b.partition).toBe(3);
    const [part] = toParts(b);
    expect(part).toMatchObject({ partition: 3, firstOffset: '15', lastOffset: '19' });
    // Not events (each goes to the dead letters), but all five are in the part.
    expect(part!.rows + part!.invalid).toBe(5);
  });

  it('is null when everything was handed on already', () => {
    expect(pastOffset(batch(10, 19), 19n)).toBeNull();
    expect(pastOffset(batch(10, 19), 25n)).toBeNull();
  });

  it('keeps an empty batch whose last offset is further on (control records), so its commit moves past them', () => {
    const b = pastOffset(batch(10, 19, 21), 19n)!;
    expect(b.messages).toEqual([]);
    expect(toParts(b)).toMatchObject([{ firstOffset: '21', lastOffset: '21', rows: 0, invalid: 0 }]);
  });

  it('returns everything when nothing was handed on from it', () => {
    expect(pastOffset(batch(10, 19), 9n)!.messages).toHaveLength(10);
  });
});
