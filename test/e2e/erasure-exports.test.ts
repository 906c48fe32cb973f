// Erasure reaches the scheduled export files (core/src/store/export-erasure.ts), through the
// admin API of a real proxy (buildProxy on 127.0.0.1:0, the real engine in process) and the
// gatelog CLI as users run it: files exported before an erasure (JSONL and CSV, in the schedules'
// dir under the schedules' names) lose the erased calls' bodies and user, or those rows, while
// every other row stays byte for byte; held calls are spared; the manifest and an
// `export.erase` audit row carry the new digest, so `gatelog export verify --url` passes; a
// second erasure that changes nothing rewrites and records nothing.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProxy } from '@gatelog/proxy';
import { createLogger, listAudit, migrate, newRequestId, openStore, parseConfig, type Store } from '@gatelog/core';
import { ROOT } from '../support/gatelog-process.ts';

const MASTER = 'master-key-for-erasure-export-tests';
const tag = randomUUID().slice(0, 8);
const DAY = Date.UTC(2026, 10, 3);
const CANARY = `canary-${tag}`;

let app: FastifyInstance;
let store: Store;
let dir: string;
let out: string;
let url: string;

/** alice: 3 calls (one in the held team), bob: 2, carol: 1; every prompt carries the canary and its owner's name. */
const CALLS = [['alice', 'a'], ['bob', 'a'], ['alice', 'a'], ['carol', 'b'], ['alice', `held-${tag}`], ['bob', 'b']] as const;

function row([user, team]: readonly [string, string], i: number): string {
  return JSON.stringify({
    schema_version: 1, gatelog_version: 'test', request_id: newRequestId(), started_at: new Date(DAY + 3_600_000 + i * 1000).toISOString(),
    user, key_id: `key-${user}`, key_name: '', team, requested_model: 'm', provider: 'p', status: 200, outcome: 'success',
    input_tokens: 3, output_tokens: 2, cost_usd: 0.001, latency_ms: 5, attempts: [], tags: { run: tag },
    request_body: JSON.stringify({ messages: [{ role: 'user', content: `${CANARY} from ${user}: "=1+1", a comma, and a\nnew line` }] }),
    response_body: `{"for":"${user}"}`, error_message: '',
  });
}

function cli(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--disable-warning=ExperimentalWarning', join(ROOT, 'src', 'cli.ts'), ...args], { cwd: ROOT, env: { PATH: process.env['PATH'] ?? '', GATELOG_MASTER_KEY: MASTER }, timeout: 90_000 }, (err, stdout, stderr) => {
      resolve({ stdout, stderr, code: err ? ((err as { code?: number }).code ?? 1) : 0 });
    });
  });
}

const api = (path: string, body?: unknown): Promise<Response> =>
  fetch(`${url}${path}`, { method: body === undefined ? 'GET' : 'POST', headers: { authorization: `Bearer ${MASTER}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

/** The file's records: JSONL lines, or CSV records (header first) split on CRLF outside quotes. */
function records(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  if (file.endsWith('.jsonl')) return text.split('\n').filter(Boolean);
  const recs: string[] = [];
  let inQuotes = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '"') inQuotes = !inQuotes;
    else if (text[i] === '\n' && !inQuotes) {
      recs.push(text.slice(start, i + 1));
      start = i + 1;
    }
  }
  return recs;
}

const FILES = { jsonl: '', csv: '' };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatelog-erasure-exports-'));
  out = join(dir, 'exports');
  mkdirSync(out);
  store = await openStore({ clickhouse: 'embedded', database: 'gatelog' }, dir);
  await migrate(store);
  await store.insertRaw('llm_calls', Buffer.from(CALLS.map(row).join('\n')));
  const config = parseConfig({ exports: [{ every: 'daily', format: 'jsonl', dir: out, keep: 'forever' }, { every: 'daily', format: 'csv', dir: out, keep: 'forever' }] }, 'test', {});
  app = await buildProxy({ config, publish: () => undefined, logger: createLogger('silent'), registry: new Registry(), masterKey: MASTER, store });
  url = await app.listen({ port: 0, host: '127.0.0.1' });
  // The day's files as the schedule names them, written through the export API (file, manifest, audit row).
  for (const format of ['jsonl', 'csv'] as const) {
    FILES[format] = join(out, `gatelog-daily-2026-11-03T000000Z.${format}`);
    const r = await cli(['export', '--from', '2026-11-03', '--to', '2026-11-04', '--format', format, '--tag', `run=${tag}`, '-o', FILES[format], '--url', url]);
    expect(r.code, r.stderr).toBe(0);
  }
}, 300_000);

afterAll(async () => {
  await app?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('erasure of calls already in scheduled export files', () => {
  it('rewrites them: the erased user\'s rows lose bodies and user, the rest stay byte for byte, held calls are spared, and verify passes', async () => {
    const before = { jsonl: records(FILES.jsonl), csv: records(FILES.csv) };
    expect(before.jsonl).toHaveLength(CALLS.length);
    expect(before.csv).toHaveLength(CALLS.length + 1);
    const hold = await api('/admin/holds', { kind: 'team', value: `held-${tag}`, reason: 'litigation' });
    expect(hold.status).toBe(201);

    const erased = await api('/admin/erase', { user: 'alice' });
    expect(erased.status).toBe(200);
    const receipt = (await erased.json()) as { rows: number; held: number; exports: { files: number; rows: number; removed: number } };
    expect(receipt).toMatchObject({ rows: 2, held: 1, exports: { files: 2, rows: 4, removed: 0 } });

    for (const format of ['jsonl', 'csv'] as const) {
      const after = records(FILES[format]);
      expect(after).toHaveLength(before[format].length);
      after.forEach((rec, i) => {
        const was = before[format][i]!;
        const aliceUnheld = was.includes('from alice') && !was.includes(`held-${tag}`);
        if (!aliceUnheld) expect(rec, `${format} record ${i}`).toBe(was);
        else {
          expect(rec).not.toContain(CANARY);
          expect(rec).not.toContain('"alice"'); // the user, a JSON value or a CSV cell
          expect(rec).toContain('key-alice'); // the call's metadata stays, as in ClickHouse
        }
      });
      // Held: alice's call in the held team keeps everything.
      expect(after.filter((r) => r.includes(CANARY) && r.includes('from alice'))).toHaveLength(1);

      const manifest = JSON.parse(readFileSync(`${FILES[format]}.manifest.json`, 'utf8')) as { export_id: string; audit_id: string; rows: number; sha256: string; erasures: { rows_erased: number; previous_sha256: string }[] };
      expect(manifest.rows).toBe(CALLS.length);
      expect(manifest.erasures).toHaveLength(1);
      expect(manifest.erasures[0]!.rows_erased).toBe(2);
      const rewrites = await listAudit(store, { action: 'export.erase', exportId: manifest.export_id });
      expect(rewrites.map((r) => r.id)).toEqual([manifest.audit_id]);
      const d = JSON.parse(rewrites[0]!.details) as { sha256: string; previous_sha256: string; erasures: string[] };
      expect(d.sha256).toBe(manifest.sha256);
      expect(d.previous_sha256).toBe(manifest.erasures[0]!.previous_sha256);
      expect(d.previous_sha256).not.toBe(d.sha256);

      const verified = await cli(['export', 'verify', FILES[format], '--url', url]);
      expect(verified.code, verified.stdout + verified.stderr).toBe(0);
      expect(verified.stdout).toContain('rewritten by 1 erasure');
    }

    // The same erasure again changes nothing: no rewrite, no audit row.
    const again = (await (await api('/admin/erase', { user: 'alice' })).json()) as { exports: { files: number } };
    expect(again.exports.files).toBe(0);
    expect(await listAudit(store, { action: 'export.erase', limit: 100 })).toHaveLength(2);
  }, 300_000);

  it('an erasure of rows leaves them out of the files; verify still passes', async () => {
    const erased = await api('/admin/erase', { user: 'bob', rows: true });
    expect(erased.status).toBe(200);
    expect(((await erased.json()) as { exports: unknown }).exports).toEqual({ files: 2, rows: 0, removed: 4 });
    for (const format of ['jsonl', 'csv'] as const) {
      const recs = records(FILES[format]);
      expect(recs.some((r) => r.includes('from bob'))).toBe(false);
      expect(recs.filter((r) => r.includes('from carol'))).toHaveLength(1);
      expect(recs).toHaveLength(CALLS.length - 2 + (format === 'csv' ? 1 : 0));
      const verified = await cli(['export', 'verify', FILES[format], '--url', url]);
      expect(verified.code, verified.stdout + verified.stderr).toBe(0);
      expect(verified.stdout).toContain('rewritten by 2 erasures');
    }
  }, 300_000);
});
