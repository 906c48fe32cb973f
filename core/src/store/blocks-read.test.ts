// Readers of split bodies against the real engine (chDB): the call detail, both export paths
// (streamed CSV/JSONL and typed pages) and body search all see the whole body.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageConfig } from '../config.ts';
import { newRequestId } from '../ids.ts';
import { openStore, type Store } from './client.ts';
import { migrate } from './migrate.ts';
import { splitBody } from './blocks.ts';
import { getCall } from './queries.ts';
import { exportBytes, exportPages } from './export-queries.ts';

let dir: string;
let store: Store;
const started = new Date();
const from = new Date(started.getTime() - 60_000).toISOString();

const body = (turns: number): string => JSON.stringify({
  model: 'claude',
  system: '=formula-looking "system" prompt, ünïcode 😀 '.repeat(300),
  messages: Array.from({ length: turns }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `${i === 3 ? 'zanzibarquokka ' : ''}turn ${i} "q" \\ `.repeat(120) })),
});
const bodies = [body(40), body(41)];
/** What went upstream for the second call (the alias rewritten to the provider's model). */
const upstream = bodies[1]!.replace('"model":"claude"', '"model":"claude-sonnet-4-5-20250929"');
const ids = [newRequestId(), newRequestId()];
const smallId = newRequestId();

async function collect(it: AsyncIterable<Uint8Array>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(Buffer.from(c));
  return Buffer.concat(parts).toString('utf8');
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatelog-blocks-read-'));
  store = await openStore(StorageConfig.parse({}), dir);
  await migrate(store);
  const blocks = new Map<string, string>();
  const split = (b: string): ReturnType<typeof splitBody> & object => {
    const s = splitBody(b)!;
    for (const x of s.blocks) blocks.set(x.hash, JSON.stringify({ hash: x.hash, body: x.body, bytes: x.bytes, last_seen: Math.floor(Date.now() / 1000) }));
    return s;
  };
  const up = split(upstream);
  const rows: Record<string, unknown>[] = bodies.map((b, i) => {
    const s = split(b);
    return { request_id: ids[i], started_at: new Date(started.getTime() + i).toISOString(), request_body: s.skeleton, request_parts: s.parts, request_bytes: Buffer.byteLength(b), response_body: '{"ok":1}', client_api: 'anthropic.messages', outcome: 'success' };
  });
  rows[1]!['attempt_io'] = [{ provider_request_id: 'req_1', request_same: false, request_body: up.skeleton, request_parts: up.parts, request_bytes: Buffer.byteLength(upstream), request_sha256: '', response_same: true, response_body: '', response_bytes: 8, response_sha256: '', truncated: false }];
  rows.push({ request_id: smallId, started_at: new Date(started.getTime() + 5).toISOString(), request_body: '{"messages":[{"role":"user","content":"hi"}]}', request_parts: [], request_bytes: 10, response_body: '{}', client_api: 'openai.chat', outcome: 'success' });
  await store.insertRaw('llm_blocks', Buffer.from(`${[...blocks.values()].join('\n')}\n`));
  await store.insertRaw('llm_calls', Buffer.from(`${rows.map((r) => JSON.stringify(r)).join('\n')}\n`));
});
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('reading split bodies', () => {
  it('the call detail has the whole body', async () => {
    const c = await getCall(store, ids[1]!);
    expect(c?.request_body === bodies[1]).toBe(true);
    expect(c?.attempt_io[0]?.request_body === upstream).toBe(true);
    expect((await getCall(store, smallId))?.request_body).toContain('"hi"');
  });

  it('JSONL and CSV exports carry whole bodies', async () => {
    const jsonl = exportBytes(store, { from }, 'jsonl');
    const lines = (await collect(jsonl.chunks)).trim().split('\n').map((l) => JSON.parse(l) as { request_id: string; request_body: string; attempt_io: { request_body: string; request_parts: unknown[] }[] });
    expect(jsonl.rows()).toBe(3);
    expect(lines.map((l) => l.request_body)).toEqual([bodies[0], bodies[1], '{"messages":[{"role":"user","content":"hi"}]}']);
    expect(lines[1]!.attempt_io[0]!.request_body === upstream).toBe(true);
    expect(lines[1]!.attempt_io[0]!.request_parts).toEqual([]);
    const csv = exportBytes(store, { from }, 'csv');
    const text = await collect(csv.chunks);
    expect(csv.rows()).toBe(3);
    for (const b of bodies) expect(text).toContain(`"${b.replaceAll('"', '""')}"`);
    expect(text).toContain(JSON.stringify(upstream).replaceAll('"', '""'));
    expect(text).not.toContain('\x01');
  });

  it('typed export pages carry whole bodies', async () => {
    const got: string[] = [];
    for await (const page of exportPages(store, { from }, 2)) got.push(...page.map((r) => r.request_body));
    expect(got.slice(0, 2)).toEqual(bodies);
  });

  it('body search finds text that lives in a block', async () => {
    const found: string[] = [];
    for await (const page of exportPages(store, { from, text: 'ZanzibarQuokka' })) found.push(...page.map((r) => r.request_id));
    expect(found.sort()).toEqual([...ids].sort());
    const words: string[] = [];
    for await (const page of exportPages(store, { from, text: 'zanzibarquokka', wholeWords: true })) words.push(...page.map((r) => r.request_id));
    expect(words).toHaveLength(2);
    for await (const page of exportPages(store, { from, text: 'nowhere-to-be-found' })) expect(page).toEqual([]);
  });
});
