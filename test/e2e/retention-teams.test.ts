// Retention periods of a team's own (`retention.teams`) on the real engine (chDB) and a real
// data dir: a team with a shorter body period loses its bodies (in ClickHouse, in the event log
// and in per-attempt copies) sooner, and its rows after its own calls period; a team kept
// longer keeps its bodies; every other call follows the global periods; a legal hold still
// outranks every period; the policy is applied once and again when a team's period changes;
// ingest stores such a team's long bodies whole, never in blocks shared past its period.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../core/src/store/client.ts';
import { migrate } from '../../core/src/store/migrate.ts';
import { LocalLogWriter } from '../../core/src/bus/local-log.ts';
import { encodeEvent, type LlmCallEvent } from '../../core/src/event.ts';
import { applyRetention, enforceRetentionNow, periodFor, RetentionConfig, wholeBodyTeams, writeHold } from '../../core/src/store/retention.ts';
import { startRetention } from '../../core/src/store/retention-sweep.ts';
import { parseConfig } from '../../core/src/config-load.ts';
import { createLogger } from '../../core/src/logger.ts';
import { splitRecord } from '../../ingest/src/body-blocks.ts';
import { filesHaving, seedEvent } from './privacy-support.ts';

const DAY = 86_400_000;
const iso = (daysAgo: number): string => new Date(Date.now() - daysAgo * DAY).toISOString();
const logger = createLogger('silent');
// Team names that need quoting in SQL, so the TTL expression's literals are exercised too.
const CLINICAL = "clinical 'ward' \\ 7";
const LEGAL = 'legal';
const POLICY = { bodies: '30d', calls: '400d', rollups: 'forever', teams: { [CLINICAL]: { bodies: '7d', calls: '90d' }, [LEGAL]: { bodies: 'forever' } } };

let dir: string;
let store: Store;
/** name → [team, days ago, user] */
const CALLS: Record<string, [string, number, string]> = {
  clinical10: [CLINICAL, 10, ''],
  clinical3: [CLINICAL, 3, ''],
  clinicalHeld: [CLINICAL, 10, 'u-held'],
  clinical100: [CLINICAL, 100, ''],
  other10: ['', 10, ''],
  other45: ['', 45, ''],
  other100: ['', 100, ''],
  legal45: [LEGAL, 45, ''],
  legal500: [LEGAL, 500, ''],
};
const ids: Record<string, string> = {};

async function stored(): Promise<Map<string, { body: boolean; attempt_io: number }>> {
  const rs = await store.client.query({
    query: `SELECT request_id, request_body != '' OR response_body != '' OR error_message != '' AS body, length(attempt_io) AS attempt_io FROM gatelog.llm_calls FINAL`,
    format: 'JSONEachRow',
  });
  const rows = await rs.json<{ request_id: string; body: number | boolean; attempt_io: number | string }>();
  return new Map(rows.map((r) => [r.request_id, { body: Boolean(Number(r.body)), attempt_io: Number(r.attempt_io) }]));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatelog-retention-teams-'));
  store = await openStore({ clickhouse: 'embedded', database: 'gatelog' }, dir);
  await migrate(store);
  const events: LlmCallEvent[] = [];
  for (const [name, [team, daysAgo, user]] of Object.entries(CALLS)) {
    const attemptIo = [{ provider_request_id: '', request_same: false, request_body: `attempt-secret-${name}`, request_parts: [], request_bytes: 10, request_sha256: 'a'.repeat(64), response_same: true, response_body: '', response_bytes: 0, response_sha256: '', truncated: false }];
    const e = seedEvent({ started_at: iso(daysAgo), team, user, attempt_io: attemptIo }, `body-secret-${name}`);
    ids[name] = e.request_id;
    events.push(e);
  }
  await store.insertRaw('llm_calls', Buffer.from(events.map((e) => encodeEvent(e).toString()).join('\n')));
  const log = new LocalLogWriter({ dir: join(dir, 'events'), fsyncMs: 0 });
  for (const e of events) log.append(encodeEvent(e));
  log.close();
  const at = new Date().toISOString();
  await writeHold(store, { id: 'hold_teams', version: 1, kind: 'user', value: 'u-held', reason: 'litigation', active: true, created_at: at, updated_at: at, updated_by: 'test' });
}, 60_000);

afterAll(async () => {
  await store?.close();
});

describe('retention.teams', () => {
  it('reads a team\'s own periods and falls back to the global ones', () => {
    const r = RetentionConfig.parse(POLICY);
    expect(periodFor(r, 'bodies', CLINICAL)).toBe('7d');
    expect(periodFor(r, 'calls', CLINICAL)).toBe('90d');
    expect(periodFor(r, 'calls', LEGAL)).toBe('400d');
    expect(periodFor(r, 'bodies', 'unknown')).toBe('30d');
    expect(periodFor(r, 'bodies', '')).toBe('30d');
    // A team named like an Object.prototype member is just a team without a period of its own.
    expect(periodFor(r, 'bodies', 'constructor')).toBe('30d');
    expect(wholeBodyTeams(r).sort()).toEqual([CLINICAL, LEGAL].sort());
    expect(wholeBodyTeams(RetentionConfig.parse({ teams: { same: { bodies: '30d' } } }))).toEqual([]);
  });

  it('refuses a bad period with the field named', () => {
    const load = (teams: unknown) => () => parseConfig({ retention: { teams } }, 'gatelog.yaml', {});
    expect(load({ red: { bodies: 7 } })).toThrow(/retention\.teams\.red\.bodies/);
    expect(load({ red: { body: '7d' } })).toThrow(/retention\.teams\.red/);
    expect(load({ red: { calls: '0d' } })).toThrow(/retention\.teams\.red\.calls/);
    expect(load({ red: { bodies: '7d' } })().retention.teams).toEqual({ red: { bodies: '7d' } });
  });

  it('empties each team\'s bodies after its own period, everywhere, and keeps held ones', async () => {
    const before = await stored();
    expect(before.size).toBe(Object.keys(CALLS).length);
    const sweep = await startRetention({ store, retention: RetentionConfig.parse(POLICY), dataDir: dir, logger });
    await sweep.run();
    sweep.stop();
    await enforceRetentionNow(store);
    const after = await stored();
    const body = (name: string): boolean | undefined => after.get(ids[name]!)?.body;

    // Clinical: bodies after 7 days (per-attempt bodies too), rows after 90 days, the held call kept.
    expect(body('clinical10')).toBe(false);
    expect(after.get(ids['clinical10']!)?.attempt_io).toBe(0);
    expect(body('clinical3')).toBe(true);
    expect(body('clinicalHeld')).toBe(true);
    expect(after.has(ids['clinical100']!)).toBe(false);
    // Everyone else: the global 30 and 400 days.
    expect(body('other10')).toBe(true);
    expect(body('other45')).toBe(false);
    expect(after.has(ids['other100']!)).toBe(true);
    // Legal keeps bodies forever, its rows the global 400 days.
    expect(body('legal45')).toBe(true);
    expect(after.has(ids['legal500']!)).toBe(false);

    // The event log follows the same periods (the 500-day legal call keeps its body there: only
    // its row's period is global, and the log's copies are bodies, kept forever for legal).
    for (const name of ['clinical10', 'clinical100', 'other45', 'other100']) expect(filesHaving(dir, `body-secret-${name}`), name).toEqual([]);
    for (const name of ['clinical3', 'clinicalHeld', 'other10', 'legal45', 'legal500']) expect(filesHaving(dir, `body-secret-${name}`).length, name).toBeGreaterThan(0);
  }, 120_000);

  it('is applied once, and again when a team\'s period changes', async () => {
    const r = RetentionConfig.parse(POLICY);
    expect(await applyRetention(store, r)).toEqual([]);
    const shorter = RetentionConfig.parse({ ...POLICY, teams: { ...POLICY.teams, [LEGAL]: { bodies: '40d' } } });
    expect(await applyRetention(store, shorter)).toEqual(['llm_calls.bodies', 'llm_calls.attempt_io', 'llm_calls.request_parts']);
    expect(await applyRetention(store, shorter)).toEqual([]);
    await enforceRetentionNow(store);
    expect((await stored()).get(ids['legal45']!)?.body).toBe(false);
    // Back to one global policy: every team-specific TTL goes.
    expect((await applyRetention(store, RetentionConfig.parse({ bodies: '30d', calls: '400d' })))).toEqual(['llm_calls.bodies', 'llm_calls.attempt_io', 'llm_calls.request_parts', 'llm_calls.rows', 'batch_objects.rows']);
    // The calls' team periods and the batch objects' (which follow them) alike.
    for (const table of ['llm_calls', 'batch_objects']) {
      const rs = await store.client.query({ query: `SELECT create_table_query AS q FROM system.tables WHERE database = 'gatelog' AND name = {t:String}`, query_params: { t: table }, format: 'JSONEachRow' });
      expect((await rs.json<{ q: string }>())[0]?.q ?? '').not.toContain('multiIf');
    }
  }, 120_000);

  it('stores the long bodies of a team with its own body period whole, never in shared blocks', () => {
    const long = Array.from({ length: 40 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `turn ${i} ${'x'.repeat(1500)}` }));
    const record = (team: string): Buffer => encodeEvent(seedEvent({ started_at: iso(0), team, request_body: JSON.stringify({ model: 'm', messages: long }) }, 'split-check'));
    expect(splitRecord(record(''), undefined, [CLINICAL])).not.toBeNull();
    expect(splitRecord(record(CLINICAL), undefined, [CLINICAL])).toBeNull();
    expect(splitRecord(record(CLINICAL))).not.toBeNull();
  });
});
