// List previews of split bodies against the real engine (chDB): a 50-turn conversation in the
// shape Claude Code sends goes through ingest's block split, and the explorer page, the thread
// previews, the Sessions list's last call and GET /admin/calls' list show the real last user
// message (or the body's real first characters), not text read out of the skeleton.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageConfig, migrate, newRequestId, openStore, type Store } from '@gatelog/core';
import { listExplorer } from '@gatelog/core/store/explorer-queries';
import { listCalls } from '@gatelog/core/store/queries';
import { callPreviews, PREVIEW_SQL, USER_MESSAGES_SQL } from '@gatelog/core/store/ui-queries';
import { listSessions } from '@gatelog/core/store/session-list-queries';
import { previewOfBody } from '@gatelog/core/store/split-previews';
import { BlockWriter } from './body-blocks.ts';

let dir: string;
let store: Store;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatelog-block-previews-'));
  store = await openStore(StorageConfig.parse({}), dir);
  await migrate(store);
});
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const SESSION = 'sess-block-previews';
const last = (turns: number): string => `Turn ${turns}: please rename parseHeader to readHeader in "src/héader.ts" 😀`;

/** Claude Code's shape: a big system prompt and tools every turn, content as text parts, a cache marker on the last message. */
function conversation(turns: number): string {
  const messages = Array.from({ length: turns }, (_, i) => i % 2
    ? { role: 'assistant', content: [{ type: 'text', text: `ok ${i} ` + 'done and verified. '.repeat(60) }] }
    : { role: 'user', content: [{ type: 'text', text: i === turns - 1 ? last(turns) : `step ${i}: ` + 'look at the file again. '.repeat(60) }] });
  (messages[messages.length - 1]!.content[0] as Record<string, unknown>)['cache_control'] = { type: 'ephemeral' };
  return JSON.stringify({
    model: 'claude-sonnet-4-5',
    max_tokens: 32000,
    system: [{ type: 'text', text: 'You are Claude Code. '.repeat(1500) }],
    tools: Array.from({ length: 12 }, (_, i) => ({ name: `tool_${i}`, description: 'Does a thing. '.repeat(80), input_schema: { type: 'object' } })),
    messages,
    stream: true,
  });
}

const t0 = Date.parse('2026-11-30T10:00:00.000Z');
const bodies = new Map<string, string>();

function event(turns: number, team: string): Record<string, unknown> {
  const body = conversation(turns);
  const id = newRequestId();
  bodies.set(id, body);
  return {
    request_id: id, started_at: new Date(t0 + turns * 1000).toISOString(), client_api: 'anthropic.messages', outcome: 'success',
    requested_model: 'claude-sonnet-4-5', provider: 'anthropic', team, session_id: SESSION, status: 200,
    request_body: body, response_body: '{"ok":true}', request_bytes: Buffer.byteLength(body),
  };
}

describe('previews of split bodies', () => {
  it('show the real last user message on every list page', async () => {
    // 25 calls of one growing conversation (turns 3, 5, …, 51: each ends on a user message).
    const events = Array.from({ length: 25 }, (_, i) => event(2 * i + 3, 'red'));
    const part = { records: events.map((e) => Buffer.from(JSON.stringify(e))) };
    expect(await new BlockWriter().write(store, [part])).toBeGreaterThan(5);
    await store.insertRaw('llm_calls', Buffer.from(`${part.records.map(String).join('\n')}\n`));
    const ids = events.map((e) => e['request_id'] as string);
    const newest = ids[ids.length - 1]!;
    const want = last(51);
    expect(previewOfBody(bodies.get(newest)!)).toBe(want);

    // The stored text is a skeleton: read in SQL, the preview is not the user's words.
    const rs = await store.client.query({
      query: `SELECT length(request_parts) AS parts, ${PREVIEW_SQL} AS p FROM (SELECT request_body, request_parts, ${USER_MESSAGES_SQL} AS um FROM ${store.database}.llm_calls WHERE request_id = {id:UUID})`,
      query_params: { id: newest, chars: 200 },
      format: 'JSONEachRow',
    });
    const [sql] = await rs.json<{ parts: number; p: string }>();
    expect(Number(sql!.parts)).toBeGreaterThan(0);
    expect(sql!.p).not.toBe(want);

    const range = { from: new Date(t0).toISOString(), to: new Date(t0 + 3_600_000).toISOString() };
    const started = performance.now();
    const page = await listExplorer(store, { ...range, teams: ['red'] }, { limit: 50 });
    const raw = [...bodies.values()].reduce((n, b) => n + b.length, 0);
    console.log(`explorer page of 25 split calls (${(raw / 1e6).toFixed(1)} MB of bodies): ${(performance.now() - started).toFixed(0)} ms`);
    expect(page.rows).toHaveLength(25);
    for (const r of page.rows) {
      const body = bodies.get(r.request_id)!;
      expect(r.prompt_preview).toBe(previewOfBody(body));
      expect(r.preview).toBe(body.slice(0, 200));
    }
    expect(page.rows[0]!.request_id).toBe(newest);
    expect(page.rows[0]!.prompt_preview).toBe(want);
    // Team-scoped as before: another team's reader sees none of them.
    expect((await listExplorer(store, { ...range, teams: ['blue'] }, { limit: 50 })).rows).toHaveLength(0);

    // Thread pages' previews (one batched read for the whole session).
    const previews = await callPreviews(store, events.map((e) => ({ request_id: e['request_id'] as string, started_at: e['started_at'] as string })));
    for (const id of ids) expect(previews.get(id)).toEqual({ preview: previewOfBody(bodies.get(id)!), prefix: bodies.get(id)!.slice(0, 200) });

    // The Sessions list names its last call, whose preview is the last user message.
    const sessions = await listSessions(store, { ...range, teams: ['red'], limit: 10 });
    const row = sessions.rows.find((s) => s.session_id === SESSION)!;
    expect(row.last_request_id).toBe(newest);
    expect((await callPreviews(store, [{ request_id: row.last_request_id, started_at: row.last_at }])).get(newest)?.preview).toBe(want);

    // A body kept whole (under the split size) previews the same in SQL as in JS, a tool result included.
    const small = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'ok' }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: 'exit 0: 12 tests passed' }] }] });
    const whole: Record<string, unknown> = { ...event(1, 'red'), request_body: small, request_bytes: small.length, session_id: '' };
    await store.insertRaw('llm_calls', Buffer.from(`${JSON.stringify(whole)}\n`));
    const wholeId = whole['request_id'] as string;
    expect(previewOfBody(small)).toBe('exit 0: 12 tests passed');
    expect((await callPreviews(store, [{ request_id: wholeId, started_at: whole['started_at'] as string }])).get(wholeId)).toEqual({ preview: 'exit 0: 12 tests passed' });

    // GET /admin/calls' list: the body's real first characters.
    const listed = await listCalls(store, { teams: ['red'], limit: 5 });
    expect(listed[0]!.request_id).toBe(newest);
    expect(listed[0]!.preview).toBe(bodies.get(newest)!.slice(0, 200));
  });
});
