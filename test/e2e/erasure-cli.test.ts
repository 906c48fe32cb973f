// Erasure as a user runs it: calls recorded with redaction off (bodies stored as sent), then
// `gatelog erase --user U` (a real CLI process against a real gatelog process) removes that
// user's bodies from ClickHouse, the event log and every other file under the data dir,
// answers with a receipt, is audited, and leaves calls under a legal hold alone.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.ts';
import { ROOT, startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';
import { filesHaving, storeText, waitForCalls } from './privacy-support.ts';

const run = promisify(execFile);
const MASTER = 'gl-master-erasure-0123456789';
const auth = { authorization: `Bearer ${MASTER}` };
const tag = crypto.randomUUID().slice(0, 8);
const ERASED = `erase-me-${tag}`;
const HELD = `held-${tag}`;
const KEPT = `keep-${tag}`;

let up: FakeOpenAi;
let gl: GatelogProcess;

async function cli(...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await run(process.execPath, ['--disable-warning=ExperimentalWarning', join(ROOT, 'src', 'cli.ts'), ...args, '--url', gl.url, '--json'], { env: { ...process.env, GATELOG_MASTER_KEY: MASTER } });
    return { code: 0, out: r.stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

beforeAll(async () => {
  up = await startFakeOpenAi();
  gl = await startGatelog({
    config: {
      providers: { up: { kind: 'openai', base_url: up.baseUrl, api_key: 'upstream' } },
      models: [{ name: 'chat', deployments: [{ provider: 'up', model: 'gpt-4o-mini' }] }],
      ingest: { batch_rows: 100, batch_ms: 100 },
      redaction: { mode: 'off' },
    },
    env: { GATELOG_MASTER_KEY: MASTER },
  });
  const oa = new OpenAI({ baseURL: `${gl.url}/v1`, apiKey: MASTER, maxRetries: 0 });
  for (const [user, text] of [['u-erase', ERASED], ['u-erase', ERASED], ['u-held', HELD], ['u-keep', KEPT]] as const) {
    await oa.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: `my secret is ${text}` }] }, { headers: { 'x-gatelog-user': user } });
  }
  await waitForCalls(gl.url, 4, auth);
}, 90_000);

afterAll(async () => {
  await gl?.stop();
  await up?.close();
});

describe('gatelog erase', () => {
  it('erases one user everywhere, answers a receipt, audits it, and honours holds', async () => {
    expect(filesHaving(gl.dataDir, ERASED).length).toBeGreaterThan(0);
    const placed = await cli('holds', 'place', '--kind', 'user', '--value', 'u-held', '--reason', 'litigation 42');
    expect(placed.code).toBe(0);

    const r = await cli('erase', '--user', 'u-erase');
    expect(r.code).toBe(0);
    const receipt = JSON.parse(r.out) as { rows: number; bytes: number; held: number; ms: number; files: { records: number } };
    expect(receipt).toMatchObject({ rows: 2, held: 0 });
    expect(receipt.bytes).toBeGreaterThan(0);
    expect(receipt.files.records).toBe(2);
    expect(receipt.ms).toBeLessThan(60_000);

    const held = JSON.parse((await cli('erase', '--user', 'u-held')).out) as { rows: number; held: number };
    expect(held).toMatchObject({ rows: 0, held: 1 });

    const calls = await waitForCalls(gl.url, 4, auth);
    const bodies = calls.map((c) => c.request_body + c.response_body).join('\n');
    expect(bodies).not.toContain(ERASED);
    expect(bodies).toContain(HELD);
    expect(bodies).toContain(KEPT);
    expect(calls.map((c) => c.user).sort()).toEqual(['', '', 'u-held', 'u-keep']);

    const audit = (await (await fetch(`${gl.url}/admin/audit?action=calls.erase`, { headers: auth })).json()) as { data: { details: string }[] };
    expect(audit.data.length).toBe(2);
    expect(audit.data.map((a) => a.details).join()).toContain('"rows":2');
    const holdAudit = (await (await fetch(`${gl.url}/admin/audit?action=hold.place`, { headers: auth })).json()) as { data: unknown[] };
    expect(holdAudit.data.length).toBe(1);

    // Bad input is the caller's 4xx in OpenAI's error shape, never a store error.
    for (const body of [{}, { before: 'last tuesday' }, { user: 'x', extra: 1 }]) {
      const res = await fetch(`${gl.url}/admin/erase`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_erase_request');
    }
    expect((await fetch(`${gl.url}/admin/holds/nope`, { method: 'DELETE', headers: auth })).status).toBe(404);
    expect((await fetch(`${gl.url}/admin/erase`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user":"u-keep"}' })).status).toBe(401);

    const log = gl.logs();
    await gl.stop();
    // Afterwards the canary search finds nothing: not in any file, not in ClickHouse, not in the log.
    expect(filesHaving(gl.dataDir, ERASED)).toEqual([]);
    const text = await storeText(gl.dataDir);
    expect(text).not.toContain(ERASED);
    expect(text).toContain(HELD);
    expect(log).not.toContain(ERASED);
  }, 120_000);

  it('refuses an erase without a selector (CLI exit 2; API 400)', async () => {
    expect((await cli('erase')).code).toBe(2);
  });
});
