// attempt_io (migration 0013) on the real engine: the body retention TTL empties it for calls
// past the body period (held calls keep it), and the event-log scrub empties its bodies and
// hashes in place, like the call's own bodies.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from './client.ts';
import { migrate } from './migrate.ts';
import { applyRetention, enforceRetentionNow, markHolds, RetentionConfig, writeHold } from './retention.ts';
import { scrubLogDir } from './erasure-files.ts';
import { LocalLogWriter } from '../bus/local-log.ts';
import { encodeEvent, type AttemptIo, type LlmCallEvent } from '../event.ts';

const DAY = 86_400_000;
let dir: string;
let store: Store;

const io = (secret: string): AttemptIo => ({
  provider_request_id: `req-${secret}`, request_same: false, request_body: `{"q":"${secret}"}`, request_parts: [], request_bytes: 9, request_sha256: 'a'.repeat(64),
  response_same: false, response_body: `data: ${secret}\n\n`, response_bytes: 9, response_sha256: 'b'.repeat(64), truncated: false,
});

function event(daysAgo: number, user: string, secret: string): LlmCallEvent {
  const id = crypto.randomUUID();
  return {
    schema_version: 1, gatelog_version: 't', request_id: id, started_at: new Date(Date.now() - daysAgo * DAY).toISOString(), trace_id: '', session_id: '', user, tags: {},
    key_id: '', key_name: '', team: '', endpoint: '/v1/chat/completions', client_api: 'openai.chat', upstream_api: 'openai.chat', requested_model: 'm', provider: 'p',
    deployment_model: 'm', upstream_model: 'm', stream: true, status: 200, outcome: 'success', error_type: '', error_message: '', finish_reason: 'stop',
    input_tokens: 1, output_tokens: 1, cached_tokens: 0, cache_creation_tokens: 0, reasoning_tokens: 0, tokens_estimated: false, cost_usd: 0, cache_hit: false,
    ttft_ms: 1, latency_ms: 2, overhead_ms: 0, attempts: [{ provider: 'p', model: 'm', status: 200, error_class: '', latency_ms: 1 }],
    request_body: 'rb', response_body: 'sb', request_bytes: 2, response_bytes: 2, truncated: false, attempt_io: [io(secret)],
  };
}

async function ioOf(user: string): Promise<AttemptIo[]> {
  const rs = await store.client.query({ query: `SELECT attempt_io FROM ${store.database}.llm_calls FINAL WHERE user = {u:String}`, query_params: { u: user }, format: 'JSONEachRow' });
  const [r] = await rs.json<{ attempt_io: AttemptIo[] }>();
  return r?.attempt_io ?? [];
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatelog-attempt-io-'));
  store = await openStore({ clickhouse: 'embedded', database: 'gatelog' }, dir);
  await migrate(store);
  const events = [event(60, 'old', 'old-secret'), event(60, 'held', 'held-secret'), event(1, 'new', 'new-secret')];
  await store.insertRaw('llm_calls', Buffer.from(events.map((e) => encodeEvent(e).toString()).join('\n')));
  const log = new LocalLogWriter({ dir: join(dir, 'events'), fsyncMs: 0 });
  for (const e of events) log.append(encodeEvent(e));
  log.close();
}, 60_000);

afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('attempt_io retention and scrub', () => {
  it('is stored as sent, then emptied by the body TTL except where a hold applies', async () => {
    expect((await ioOf('old'))[0]).toMatchObject({ provider_request_id: 'req-old-secret', request_body: '{"q":"old-secret"}', response_body: 'data: old-secret\n\n' });
    const now = new Date().toISOString();
    await writeHold(store, { id: 'h1', version: 1, kind: 'user', value: 'held', reason: 'test', active: true, created_at: now, updated_at: now, updated_by: 't' });
    await markHolds(store);
    expect(await applyRetention(store, RetentionConfig.parse({ bodies: '30d' }))).toContain('llm_calls.attempt_io');
    await enforceRetentionNow(store);
    expect(await ioOf('old')).toEqual([]);
    expect((await ioOf('held'))[0]?.request_body).toBe('{"q":"held-secret"}');
    expect((await ioOf('new'))[0]?.request_body).toBe('{"q":"new-secret"}');
  });

  it('the event-log scrub empties attempt bodies and hashes, keeping ids and sizes', async () => {
    const res = await scrubLogDir(join(dir, 'events'), [{ match: (e) => e['user'] === 'old' }]);
    expect(res.records).toBe(1);
    const text = readFileSync(join(dir, 'events', '00000000000000000000.log'), 'latin1');
    expect(text).not.toContain('old-secret"}');
    expect(text).not.toContain('data: old-secret');
    expect(text).toContain('req-old-secret');
    expect(text).toContain('new-secret');
  });
});
