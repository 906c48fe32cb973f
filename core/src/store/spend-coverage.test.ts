// storedRequestIds against a real chDB store: finds exactly the stored calls among those asked
// about, across chunks, whatever their outcome; ids the column cannot hold are not asked about.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newRequestId } from '../ids.ts';
import { tempEmbeddedStore, type TempStore } from '../../../test/support/embedded-store.ts';
import { testEvent } from './test-event.ts';
import { COVERAGE_CHUNK, storedRequestIds } from './spend-coverage.ts';

const T0 = Date.parse('2026-11-23T10:00:00Z');
let temp: TempStore;

beforeAll(async () => {
  temp = await tempEmbeddedStore('gatelog-spend-coverage');
});

afterAll(async () => {
  await temp?.close();
});

describe('storedRequestIds', () => {
  it('finds the stored calls among those asked about, in every chunk', async () => {
    const asked = Array.from({ length: COVERAGE_CHUNK + 5 }, (_, i) => ({ requestId: newRequestId(), startedAt: T0 + i * 1000 }));
    const stored = [asked[0]!, asked[COVERAGE_CHUNK - 1]!, asked[COVERAGE_CHUNK + 4]!];
    const events = stored.map((c, i) => testEvent({ request_id: c.requestId, started_at: new Date(c.startedAt).toISOString(), outcome: i === 1 ? 'error' : 'success' }));
    // A call stored twice (a replayed batch) and one not asked about.
    events.push(events[0]!, testEvent({ started_at: new Date(T0).toISOString() }));
    await temp.store.insertRaw('llm_calls', Buffer.from(events.map((e) => JSON.stringify(e)).join('\n')));
    const found = await storedRequestIds(temp.store, [...asked, { requestId: 'not-a-uuid', startedAt: T0 }]);
    expect([...found].sort()).toEqual(stored.map((c) => c.requestId).sort());
  });

  it('asks nothing for no calls', async () => {
    expect(await storedRequestIds(temp.store, [])).toEqual(new Set());
  });
});
