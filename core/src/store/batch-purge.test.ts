// Which files are due for deletion at their provider (batch-purge.ts), on a real store: by their
// team's calls period, by an erasure naming their key; waiting while their batch runs or its
// results are unrecorded (a day at most); kept under a key or team hold, and with their batch's held calls.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempEmbeddedStore, type TempStore } from '../../../test/support/embedded-store.ts';
import { markBatchRecorded, saveBatchObjects } from './batch-objects.ts';
import { EraseRequest } from './erasure.ts';
import { erasedFilesSql, expiredFilesSql, filesToPurge, type PurgeQuery } from './batch-purge.ts';
import { RetentionConfig, type CallHold } from './retention.ts';

const HOUR = 3_600_000;
const now = Date.now();
const retention = RetentionConfig.parse({ teams: { short: { calls: '1h' } } });

let t: TempStore;

const chTime = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
const row = (id: string, kind: string, o: { team?: string; key?: string; status?: string; input?: string; object?: object; ago?: number; updated?: number } = {}): string =>
  JSON.stringify({
    id, kind, provider: 'oai', team: o.team ?? 'short', key_id: o.key ?? 'k1', key_name: '', created_at: chTime(now - (o.ago ?? 2 * HOUR)), purpose: 'batch',
    input_file_id: o.input ?? '', status: o.status ?? 'processed', line_models: '', object: JSON.stringify(o.object ?? {}),
    ...(o.updated !== undefined ? { updated_at: chTime(now - o.updated) } : {}),
  });
const hold = (kind: CallHold['kind'], value: string): CallHold => ({ id: `hold-${value}`, version: 1, kind, value, reason: 'r', active: true, created_at: '', updated_at: '', updated_by: '' });

async function due(q: Partial<PurgeQuery> = {}): Promise<Record<string, string>> {
  const rows = await filesToPurge(t.store, { now, retention, erasures: [], holds: [], waiting: true, limit: 100, ...q });
  return Object.fromEntries(rows.map((r) => [r.id, [r.reason, r.busy ? 'busy' : '', r.held ? 'held' : ''].filter(Boolean).join(' ')]));
}

beforeAll(async () => {
  t = await tempEmbeddedStore('batch-purge');
  const rows = [
    row('f-plain', 'file'),
    row('f-long', 'file', { team: 'long' }),
    row('f-new', 'file', { ago: HOUR / 2 }),
    row('f-gone', 'file', { status: 'deleted' }),
    row('f-running', 'file'),
    row('b-running', 'batch', { status: 'in_progress', input: 'f-running' }),
    row('f-ended-in', 'file'),
    row('f-ended-out', 'file'),
    row('b-ended', 'batch', { status: 'completed', input: 'f-ended-in', object: { output_file_id: 'f-ended-out', error_file_id: null } }),
    row('f-k9', 'file', { key: 'k9' }),
    // Ended two days ago and never recorded (its output deleted by the client, say): it waits no longer.
    row('f-stuck-in', 'file'),
    row('b-stuck', 'batch', { status: 'completed', input: 'f-stuck-in', object: { output_file_id: 'f-gone' }, updated: 48 * HOUR }),
    row('f-user-in', 'file'),
    row('b-user', 'batch', { status: 'failed', input: 'f-user-in' }),
    row('f-era', 'file', { team: 'long', key: 'k2', ago: HOUR }),
  ];
  await t.store.insertRaw('batch_objects', Buffer.from(`${rows.join('\n')}\n`));
  // One call of b-user's is under a legal hold (of its user).
  const call = { schema_version: 1, gatelog_version: 'test', request_id: '0190a000-0000-7000-8000-000000000001', started_at: new Date(now - 2 * HOUR).toISOString(), user: 'ada', key_id: 'k1', key_name: '', team: 'short',
    requested_model: 'm', provider: 'oai', status: 200, outcome: 'success', input_tokens: 1, output_tokens: 1, cost_usd: 0, latency_ms: 1, attempts: [], tags: { 'gatelog.batch': 'b-user' }, legal_hold: true };
  await t.store.insertRaw('llm_calls', Buffer.from(`${JSON.stringify(call)}\n`));
});

afterAll(async () => {
  await t?.close();
});

describe('files due at their provider', () => {
  it("retention: a team's files past its period, the others not; a running or unrecorded batch's files wait", async () => {
    expect(await due()).toEqual({
      'f-plain': 'retention', 'f-running': 'retention busy', 'f-ended-in': 'retention busy', 'f-ended-out': 'retention busy', 'f-k9': 'retention', 'f-user-in': 'retention',
      'f-stuck-in': 'retention',
    });
    await markBatchRecorded(t.store, 'b-ended', 1);
    expect(Object.keys(await due({ waiting: false })).sort()).toEqual(['f-ended-in', 'f-ended-out', 'f-k9', 'f-plain', 'f-stuck-in', 'f-user-in']);
  });

  it('holds: a key hold keeps its files; a user hold keeps the files of a batch with a held call', async () => {
    expect(await due({ holds: [hold('key', 'k9')] })).toMatchObject({ 'f-k9': 'retention held', 'f-plain': 'retention', 'f-user-in': 'retention' });
    expect(await due({ holds: [hold('user', 'ada')] })).toMatchObject({ 'f-k9': 'retention', 'f-user-in': 'retention held' });
    expect(await due({ holds: [hold('team', 'short')] })).toMatchObject({ 'f-plain': 'retention held', 'f-k9': 'retention held' });
  });

  it('erasure: by key, the files that key made before it; by user, none', async () => {
    const byKey = { id: 'e1', at: now, request: EraseRequest.parse({ key: 'k2' }) };
    expect(await due({ retention: null, erasures: [byKey] })).toEqual({ 'f-era': 'erasure' });
    expect(await due({ retention: null, erasures: [{ ...byKey, at: now - 2 * HOUR }] })).toEqual({});
    expect(erasedFilesSql([{ id: 'e2', at: now, request: EraseRequest.parse({ user: 'ada', key: 'k2' }) }])).toBe('0');
    expect(await due({ retention: null, erasures: [{ id: 'e3', at: now, request: EraseRequest.parse({ before: new Date(now).toISOString(), teams: ['long'] }) }] })).toEqual({ 'f-long': 'erasure', 'f-era': 'erasure' });
  });

  it('the least recently written first: a file written again (its deletion failed) goes to the back', async () => {
    const q = { now, retention, erasures: [], holds: [], waiting: false, limit: 1 };
    const [first] = await filesToPurge(t.store, q);
    const { reason: _reason, busy: _busy, held: _held, ...row } = first!;
    await saveBatchObjects(t.store, [row]);
    const [next] = await filesToPurge(t.store, q);
    expect(next!.id).not.toBe(first!.id);
  });

  it('forever keeps every file', () => {
    expect(expiredFilesSql(RetentionConfig.parse({ calls: 'forever' }), now)).toBe('0');
    expect(expiredFilesSql(RetentionConfig.parse({ calls: 'forever', teams: { short: { calls: '1h' } } }), now)).toContain('multiIf(');
  });
});
