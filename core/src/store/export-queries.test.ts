// The export row counter against random CSV (cells full of quotes, line ends inside cells,
// chunk splits anywhere, unaligned chunk offsets), and JSONL exports, whose lines are built in
// SQL, against the events stored, through a real chDB store.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageConfig } from '../config.ts';
import { newRequestId } from '../ids.ts';
import type { LlmCallEvent } from '../event.ts';
import { openStore, type Store } from './client.ts';
import { migrate } from './migrate.ts';
import { EXPORT_COLUMNS, exportBytes, ExportIdleError, ExportRowCounter } from './export-queries.ts';
import { rng } from '../../../test/support/rng.ts';

/** A CSV cell as ClickHouse writes a string: quoted, inner quotes doubled. */
function cell(rand: () => number): string {
  const alphabet = ['"', '\n', '\r\n', ',', 'a', 'b', '{', '}', ':', ' ', 'é'];
  let s = '';
  const len = Math.floor(rand() * 40);
  for (let i = 0; i < len; i++) s += alphabet[Math.floor(rand() * alphabet.length)];
  return `"${s.replaceAll('"', '""')}"`;
}

describe('ExportRowCounter', () => {
  it('counts CSV rows exactly however the bytes are split and aligned', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const rand = rng(seed);
      const rows = 1 + Math.floor(rand() * 60);
      let csv = '';
      for (let r = 0; r < rows; r++) csv += `${r},${cell(rand)},${cell(rand)},${rand() < 0.5 ? 'true' : 'false'}\r\n`;
      const bytes = Buffer.from(csv);
      for (let k = 0; k < 8; k++) {
        // Copy at an odd offset of a larger buffer, then feed random-sized pieces of it.
        const pad = Math.floor(rand() * 7);
        const big = Buffer.alloc(bytes.length + pad + 3);
        bytes.copy(big, pad);
        const view = big.subarray(pad, pad + bytes.length);
        const c = new ExportRowCounter('csv');
        for (let at = 0; at < view.length; ) {
          const n = 1 + Math.floor(rand() * 97);
          c.feed(view.subarray(at, at + n));
          at += n;
        }
        expect(c.rows, `seed ${seed}`).toBe(rows);
      }
    }
  });

  it('counts JSONL lines', () => {
    const c = new ExportRowCounter('jsonl');
    c.feed(Buffer.from('{"a":"x\\ny"}\n{"a'));
    c.feed(Buffer.from('":1}\n'));
    expect(c.rows).toBe(2);
  });
});

describe('JSONL export lines', () => {
  let dir: string;
  let store: Store;
  const tricky = [
    'plain',
    '',
    '{"messages":[{"role":"user","content":"say \\"hi\\" \\\\ C:\\\\path"}]}',
    'back\\slash and "quotes" and / slash',
    'line\nbreak\r\nand\ttab',
    'nul\u0000 unit\u001f bell\u0007 del\u007f',
    'separators \u2028 \u2029 emoji 🚀 accents é ü 中文',
    '</script><script>alert(1)</script>',
    "=HYPERLINK(\"x\") +1 -1 @a 'q",
  ];
  const events: LlmCallEvent[] = tricky.map((t, i) => ({
    schema_version: 1, gatelog_version: 't', request_id: newRequestId(), started_at: new Date(Date.UTC(2026, 3, 1, 12, 0, i, 7)).toISOString(),
    trace_id: `tr-${t.slice(0, 5)}`, session_id: '', user: t, tags: { env: t, 'k"\\': 'v' }, key_id: 'k1', key_name: t, team: 'red',
    endpoint: '/v1/chat/completions', client_api: 'openai.chat', upstream_api: 'openai.chat',
    requested_model: 'm', provider: 'p', deployment_model: 'm', upstream_model: 'm',
    stream: i % 2 === 0, status: i === 3 ? 502 : 200, outcome: i === 3 ? 'error' : 'success', error_type: i === 3 ? 'upstream' : '', error_message: t, finish_reason: 'stop',
    input_tokens: 10 + i, output_tokens: 4_000_000_000, cached_tokens: 0, cache_creation_tokens: 0, reasoning_tokens: i,
    tokens_estimated: false, cost_usd: i === 1 ? null : [0.000123, 1e-7, 12.5, 0][i % 4]!, cache_hit: i === 2,
    ttft_ms: i % 3 === 0 ? null : 12.25, latency_ms: 100.5 + i, overhead_ms: 0.125,
    attempts: i === 3 ? [{ provider: 'p', model: 'm', status: 502, error_class: t, latency_ms: 3.5 }] : [],
    request_body: t, response_body: [...t].reverse().join(''), request_bytes: 1, response_bytes: 1, truncated: i === 4,
    ...(i === 2 ? { audio_seconds: 12.4, images: 3, image_size: '1024x1792', image_quality: 'hd', input_image_tokens: 7, input_characters: 1200 } : {}),
  }));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatelog-jsonl-'));
    store = await openStore(StorageConfig.parse({}), dir);
    await migrate(store);
    await store.insertRaw('llm_calls', Buffer.from(events.map((e) => JSON.stringify(e)).join('\n')));
  });
  afterAll(async () => {
    await store?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('are valid JSON with every column, in order, holding exactly what was stored', async () => {
    const out = exportBytes(store, { from: '2026-04-01T00:00:00Z', to: '2026-04-02T00:00:00Z' }, 'jsonl');
    const parts: Buffer[] = [];
    for await (const c of out.chunks) parts.push(Buffer.from(c));
    const lines = Buffer.concat(parts).toString('utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(events.length);
    expect(out.rows()).toBe(events.length);
    for (const [i, line] of lines.entries()) {
      const row = JSON.parse(line) as Record<string, unknown>;
      const e = events[i]!;
      expect(Object.keys(row)).toEqual(EXPORT_COLUMNS);
      expect(row).toEqual({
        request_id: e.request_id, started_at: e.started_at, trace_id: e.trace_id, session_id: e.session_id, user: e.user, tags: e.tags,
        key_id: e.key_id, key_name: e.key_name, team: e.team, endpoint: e.endpoint, client_api: e.client_api, requested_model: e.requested_model,
        provider: e.provider, upstream_model: e.upstream_model, stream: e.stream, status: e.status, outcome: e.outcome, error_type: e.error_type,
        error_message: e.error_message, finish_reason: e.finish_reason, input_tokens: e.input_tokens, output_tokens: e.output_tokens,
        cached_tokens: e.cached_tokens, reasoning_tokens: e.reasoning_tokens, cache_creation_tokens: e.cache_creation_tokens,
        cache_write_5m_tokens: e.cache_write_5m_tokens ?? 0, cache_write_1h_tokens: e.cache_write_1h_tokens ?? 0, input_audio_tokens: e.input_audio_tokens ?? 0,
        output_audio_tokens: e.output_audio_tokens ?? 0, input_image_tokens: e.input_image_tokens ?? 0, audio_seconds: e.audio_seconds ?? 0,
        input_characters: e.input_characters ?? 0, images: e.images ?? 0, image_size: e.image_size ?? '', image_quality: e.image_quality ?? '', cost_usd: e.cost_usd, price_version: e.price_version ?? '', cache_hit: e.cache_hit, ttft_ms: e.ttft_ms,
        latency_ms: e.latency_ms, overhead_ms: e.overhead_ms, attempts: e.attempts, request_body: e.request_body, response_body: e.response_body,
        truncated: e.truncated, attempt_io: e.attempt_io ?? [], replay_of: e.replay_of ?? '',
      });
    }
  });
});

describe('an export whose reader stops', () => {
  let dir: string;
  let store: Store;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatelog-idle-'));
    store = await openStore(StorageConfig.parse({}), dir);
    await migrate(store);
    // ~1.5 MB of JSONL: far more than the pipe and the reader's buffer hold.
    const rows = Array.from({ length: 300 }, (_, i) => JSON.stringify({ request_id: newRequestId(), started_at: new Date(Date.UTC(2026, 3, 1) + i).toISOString(), request_body: 'x'.repeat(5000) }));
    await store.insertRaw('llm_calls', Buffer.from(rows.join('\n')));
  });
  afterAll(async () => {
    await store?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is stopped after the idle limit: its query ends and the next read says why', async () => {
    // The export's FIFO lives in a private directory under os.tmpdir() until its query settles.
    const tmp = mkdtempSync(join(tmpdir(), 'gatelog-idle-tmp-'));
    const saved = process.env['TMPDIR'];
    process.env['TMPDIR'] = tmp;
    try {
      const open = (): number => readdirSync(tmp).filter((d) => d.startsWith('gatelog-stream-')).length;
      const out = exportBytes(store, {}, 'jsonl', undefined, 300);
      const first = await out.chunks.next();
      expect(first.done).toBe(false);
      await new Promise((r) => setTimeout(r, 100));
      expect(open()).toBe(1);
      await new Promise((r) => setTimeout(r, 1_500));
      expect(open()).toBe(0);
      await expect(out.chunks.next()).rejects.toThrow(ExportIdleError);
    } finally {
      if (saved === undefined) delete process.env['TMPDIR'];
      else process.env['TMPDIR'] = saved;
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('a reader that keeps reading is never stopped', async () => {
    const out = exportBytes(store, {}, 'jsonl', undefined, 300);
    let lines = 0;
    for await (const c of out.chunks) {
      lines += Buffer.from(c).toString('utf8').split('\n').length - 1;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(lines).toBe(300);
  });
});
