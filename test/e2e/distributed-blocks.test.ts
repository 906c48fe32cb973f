// Long conversations in distributed mode: proxy publisher → Kafka (test broker) → ingest worker
// → ClickHouse over HTTP (chDB fixture). Growing conversation events of up to ~3 MB pass every
// hop, are stored as skeleton + shared blocks, and read back whole through the call detail.
import { afterEach, describe, expect, it } from 'vitest';
import { REQUEST_SET_MIN_BYTES, getCall } from '@gatelog/core';
import { withTopLevel } from '@gatelog/core/json/top-level';
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

  it('writes back an attempt\'s request carried as request_set, and sets aside one in too short an event', { timeout: 120_000 }, async () => {
    d = await startDistributed({ partitions: 1 });
    await d.worker();
    const pub = d.publisher();
    const set = { model: '"claude-sonnet-4-5-20250929"' };
    const io = { provider_request_id: 'req_1', request_same: false, request_body: '', request_parts: [], request_bytes: 0, request_sha256: '', response_same: true, response_body: '', response_bytes: 0, response_sha256: '', truncated: false, request_set: set };
    const long = sampleEvent({ schema_version: 2, client_api: 'anthropic.messages', request_body: conversation(12), attempt_io: [io] });
    const short = sampleEvent({ schema_version: 2, attempt_io: [io] });
    expect(long.request_body.length).toBeGreaterThan(REQUEST_SET_MIN_BYTES);
    pub.publish(long);
    pub.publish(short);
    await pub.flush(60_000);
    await eventually('the long call stored, the short one dead-lettered', async () => (await d!.counts()).rows === 1 && d!.dlqKeys().includes(short.request_id), 60_000);
    const c = await getCall(d.store, long.request_id);
    expect(c?.request_body === long.request_body).toBe(true);
    expect(c?.attempt_io[0]?.request_body === withTopLevel(long.request_body, set)).toBe(true);
    expect(c?.attempt_io[0]?.truncated).toBe(false);
  });
});
