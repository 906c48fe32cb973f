// Long conversations in distributed mode: proxy publisher → Kafka (test broker) → ingest worker
// → ClickHouse over HTTP (chDB fixture). Growing conversation events of up to ~3 MB pass every
// hop, are stored as skeleton + shared blocks, and read back whole through the call detail.
import { afterEach, describe, expect, it } from 'vitest';
import { getCall } from '@gatelog/core';
import { sampleEvent } from './distributed-events.ts';
import { eventually, startDistributed, type Distributed } from './distributed-harness.ts';

const conversation = (turns: number): string => JSON.stringify({
  model: 'claude-sonnet-4-5',
  system: [{ type: 'text', text: 'You are a careful agent. '.repeat(600), cache_control: { type: 'ephemeral' } }],
  messages: Array.from({ length: turns }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `step ${i}: ${'output line ✓ "quoted" '.repeat(3000)}` })),
});

describe('distributed ingest of long conversations', () => {
  let d: Distributed | undefined;
  afterEach(async () => {
    await d?.close();
    d = undefined;
  });

  it('stores growing conversation events whole, sharing their blocks', { timeout: 120_000 }, async () => {
    d = await startDistributed({ partitions: 1 });
    await d.worker();
    const pub = d.publisher();
    const events = [10, 20, 40].map((turns) => sampleEvent({ client_api: 'anthropic.messages', request_body: conversation(turns) }));
    for (const e of events) pub.publish(e);
    await pub.flush(60_000);
    await eventually('all rows', async () => (await d!.counts()).rows === events.length, 60_000);
    for (const e of events) {
      const c = await getCall(d.store, e.request_id);
      expect(c?.request_body === e.request_body, `${e.request_body.length} bytes`).toBe(true);
    }
    const rs = await d.store.client.query({
      query: `SELECT (SELECT sum(length(request_body)) FROM ${d.store.database}.llm_calls FINAL) AS skeletons,
                     (SELECT sum(bytes) FROM (SELECT hash, any(bytes) AS bytes FROM ${d.store.database}.llm_blocks GROUP BY hash)) AS blocks`,
      format: 'JSONEachRow',
    });
    const [s] = await rs.json<{ skeletons: string; blocks: string }>();
    const last = Buffer.byteLength(events.at(-1)!.request_body);
    expect(Number(s!.skeletons) + Number(s!.blocks)).toBeLessThan(1.2 * last);
  });
});
