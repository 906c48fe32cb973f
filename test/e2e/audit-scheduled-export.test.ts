// Scheduled compliance exports against the real engine (chDB): the last ended period's calls
// (and only those) land in `dir` with a manifest that matches the file, one `export.run` row
// records it (via scheduled), and a second run does nothing.
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EraseRequest, ExportDigester, RetentionConfig, listAudit, migrate, newRequestId, openStore, parseConfig, recordErasure, writeHold, type Store } from '@gatelog/core';
import { expireExports, exportKeep } from '@gatelog/core/store/export-expiry';
import { scrubExportFile } from '@gatelog/core/store/export-erasure';
import { claimJob } from '@gatelog/core/store/job-lease';
import { lastEndedPeriod, runScheduledExport, scheduleKey, startScheduledExports } from '@gatelog/core/store/scheduled-exports';

const tag = randomUUID().slice(0, 8);
const DAY = Date.UTC(2026, 10, 10); // a Tuesday
let store: Store;
let dir: string;

function call(at: number, team: string): string {
  return JSON.stringify({
    schema_version: 1, gatelog_version: 'test', request_id: newRequestId(), started_at: new Date(at).toISOString(), user: 'u', key_id: '', key_name: '',
    team, requested_model: 'm', provider: 'p', status: 200, outcome: 'success', input_tokens: 1, output_tokens: 1, cost_usd: 0, latency_ms: 1,
    attempts: [], tags: { run: tag }, request_body: '{"q":1}', response_body: '{"a":1}',
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatelog-audit-sched-'));
  store = await openStore({ clickhouse: 'embedded', database: 'gatelog' }, dir);
  await migrate(store);
  const rows = [
    call(DAY - 1, 'a'), // the day before: not in the period
    call(DAY, 'a'), call(DAY + 3_600_000, 'b'), call(DAY + 86_399_999, 'a'), // the day
    call(DAY + 86_400_000, 'a'), // the next day: not ended yet
  ];
  await store.insertRaw('llm_calls', Buffer.from(rows.join('\n')));
});

afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('scheduled exports', () => {
  it('periods end on UTC boundaries (weeks on Monday)', () => {
    expect(lastEndedPeriod('daily', DAY + 86_400_000 + 5)).toEqual({ start: DAY, end: DAY + 86_400_000 });
    expect(lastEndedPeriod('hourly', DAY + 90 * 60_000)).toEqual({ start: DAY, end: DAY + 3_600_000 });
    const w = lastEndedPeriod('weekly', DAY);
    expect(new Date(w.end).toISOString()).toBe('2026-11-09T00:00:00.000Z');
    expect(new Date(w.end).getUTCDay()).toBe(1);
    expect(w.end - w.start).toBe(7 * 86_400_000);
  });

  it('the config takes exports: [{ every, format, dir, filter }]', () => {
    const c = parseConfig({ exports: [{ every: 'daily', dir: '/x' }] }, 'test', {});
    expect(c.exports).toEqual([{ every: 'daily', format: 'jsonl', dir: '/x', filter: '' }]);
    expect(() => parseConfig({ exports: [{ every: 'sometimes', dir: '/x' }] }, 'test', {})).toThrow(/exports/);
  });

  it('writes the last ended day with a matching manifest and one audit row, once', async () => {
    const out = join(dir, 'exports');
    const s = { every: 'daily' as const, format: 'csv' as const, dir: out, filter: `tags=run%3D${tag}` };
    const file = await runScheduledExport(store, s, DAY + 86_400_000 + 60_000);
    expect(file).toBe(join(out, 'gatelog-daily-2026-11-10T000000Z.csv'));
    const bytes = readFileSync(file!);
    expect(bytes.toString('utf8').trim().split('\r\n')).toHaveLength(1 + 3);
    const d = new ExportDigester('csv');
    d.feed(bytes);
    const manifest = JSON.parse(readFileSync(`${file}.manifest.json`, 'utf8')) as Record<string, unknown>;
    expect(manifest).toMatchObject({ ...d.digest(), rows: 3, format: 'csv', source: 'scheduled', by: { actor: 'scheduler', role: 'system' } });
    expect(manifest['sha256']).toBe(createHash('sha256').update(bytes).digest('hex'));
    const audit = (await listAudit(store, { action: 'export.run' })).filter((r) => r.details.includes(tag));
    expect(audit).toHaveLength(1);
    expect(audit[0]!.id).toBe(manifest['audit_id']);
    expect(JSON.parse(audit[0]!.details)).toMatchObject({ via: 'scheduled', rows: 3, completed: true, sha256: manifest['sha256'], resolved: { from: '2026-11-10T00:00:00.000Z', to: '2026-11-11T00:00:00.000Z' } });
    expect(audit[0]).toMatchObject({ actor: 'scheduler', role: 'system' });

    // Done is done: the file is there (and the trail says so even where the dir is not shared).
    expect(await runScheduledExport(store, s, DAY + 86_400_000 + 120_000)).toBeNull();
    rmSync(file!);
    expect(await runScheduledExport(store, s, DAY + 86_400_000 + 180_000)).toBeNull();
    expect((await listAudit(store, { action: 'export.run' })).filter((r) => r.details.includes(tag))).toHaveLength(1);
  });

  it('an export whose audit row cannot be written is not published; the next check writes it', async () => {
    const out = join(dir, 'exports-unaudited');
    const s = { every: 'daily' as const, format: 'jsonl' as const, dir: out, filter: `tags=run%3D${tag}&team=b` };
    // The same store, but its audit table refuses writes (a full disk, a lost table, a dead server).
    const refusing: Store = {
      ...store,
      insertRaw: async (...a: Parameters<Store['insertRaw']>) => {
        if (a[0] === 'admin_audit') throw new Error('admin_audit unavailable');
        return store.insertRaw(...a);
      },
    };
    await expect(runScheduledExport(refusing, s, DAY + 86_400_000 + 60_000)).rejects.toThrow(/audit row could not be written/);
    expect(readdirSync(out)).toEqual([]);
    const file = await runScheduledExport(store, s, DAY + 86_400_000 + 90_000);
    expect(file).toBe(join(out, 'gatelog-daily-2026-11-10T000000Z.jsonl'));
    expect(readFileSync(file!, 'utf8').trim().split('\n')).toHaveLength(1);
    const runs = (await listAudit(store, { action: 'export.run' })).filter((r) => r.details.includes(tag) && r.details.includes('exports-unaudited'));
    expect(runs).toHaveLength(1);
    expect(JSON.parse(runs[0]!.details)).toMatchObject({ completed: true, rows: 1 });
  });

  it('several instances: one exports a period, the others leave it; a silent holder is taken over', async () => {
    // Each instance its own dir, as pods with local volumes: only the lease keeps them apart.
    const s = (d: string) => ({ every: 'daily' as const, format: 'jsonl' as const, dir: join(dir, d), filter: `tags=run%3D${tag}&team=a` });
    const at = DAY + 86_400_000 + 30_000;
    const files = await Promise.all(['p1', 'p2', 'p3'].map((h) => runScheduledExport(store, s(h), at, { holder: h })));
    expect(files.filter((f) => f !== null)).toHaveLength(1);
    const runs = (await listAudit(store, { action: 'export.run' })).filter((r) => r.details.includes(`team=a`) && r.details.includes(tag) && r.details.includes('"schedule"'));
    expect(runs).toHaveLength(1);

    // The first hour of team a: an instance claimed it and died before exporting.
    const h = { every: 'hourly' as const, format: 'jsonl' as const, dir: join(dir, 'takeover'), filter: `tags=run%3D${tag}&team=a` };
    const later = DAY + 3_600_000 + 1;
    const job = `export:${scheduleKey(h, lastEndedPeriod('hourly', later).start)}`;
    expect(await claimJob(store, job, 'crashed', 1_500)).toBe(true);
    expect(await runScheduledExport(store, h, later, { holder: 'survivor', liveMs: 1_500 })).toBeNull();
    await new Promise((r) => setTimeout(r, 1_700));
    const taken = await runScheduledExport(store, h, later, { holder: 'survivor', liveMs: 1_500 });
    expect(taken).toBe(join(dir, 'takeover', 'gatelog-hourly-2026-11-10T000000Z.jsonl'));
    expect(readFileSync(taken!, 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it('runs on its own timer and stops cleanly', async () => {
    const out = join(dir, 'timer');
    const logs: string[] = [];
    const logger = { info: (o: object, m: string) => void logs.push(`${m} ${JSON.stringify(o)}`), error: (o: object, m: string) => void logs.push(`${m} ${JSON.stringify(o)}`) };
    const runner = startScheduledExports({
      store, schedules: [{ every: 'hourly', format: 'jsonl', dir: out, filter: `tags=run%3D${tag}&team=b` }], retention: RetentionConfig.parse({}), logger: logger as never,
      now: () => DAY + 2 * 3_600_000 + 1, checkEveryMs: 200, jitterMs: 10,
    });
    for (let i = 0; i < 100 && !existsSync(out); i++) await new Promise((r) => setTimeout(r, 100));
    await runner.stop();
    const files = readdirSync(out).sort();
    expect(files).toEqual(['gatelog-hourly-2026-11-10T010000Z.jsonl', 'gatelog-hourly-2026-11-10T010000Z.jsonl.manifest.json']);
    expect(readFileSync(join(out, files[0]!), 'utf8').trim().split('\n')).toHaveLength(1);
    expect(logs.some((l) => l.startsWith('scheduled export written'))).toBe(true);
  });

  it('keeps a file as long as the bodies it holds: retention.bodies, the shortest team period its filter admits, or keep', () => {
    const r = RetentionConfig.parse({ bodies: '30d', teams: { clinical: { bodies: '7d' }, legal: { bodies: 'forever' }, search: { calls: '90d' } } });
    expect(exportKeep({ filter: '' }, r)).toBe('7d'); // every team: the shortest of them all
    expect(exportKeep({ filter: 'team=search' }, r)).toBe('30d'); // search keeps the global bodies period
    expect(exportKeep({ filter: 'team=legal' }, r)).toBe('forever');
    expect(exportKeep({ filter: 'team=legal&team=clinical' }, r)).toBe('7d');
    expect(exportKeep({ filter: 'status=error&team=legal,search' }, r)).toBe('30d');
    expect(exportKeep({ filter: '', keep: '400d' }, r)).toBe('400d');
    expect(exportKeep({ filter: '' }, RetentionConfig.parse({ bodies: '12h' }))).toBe('12h');
    expect(parseConfig({ exports: [{ every: 'daily', dir: '/x', keep: '90d' }] }, 'test', {}).exports[0]?.keep).toBe('90d');
    expect(() => parseConfig({ exports: [{ every: 'daily', dir: '/x', keep: 'a while' }] }, 'test', {})).toThrow(/keep/);
  });

  it('removes files (and manifests) past their keep, audited; leaves newer files and other names; a legal hold keeps them', async () => {
    const out = join(dir, 'expiry');
    mkdirSync(out, { recursive: true });
    const name = (iso: string): string => `gatelog-daily-${iso}T000000Z.jsonl`;
    const old = [name('2026-10-01'), name('2026-10-20')];
    const recent = name('2026-11-08');
    const others = ['notes.txt', 'gatelog-hourly-2026-10-01T000000Z.jsonl', 'gatelog-daily-2026-10-01T000000Z.csv', `${name('2026-10-02')}.partial`];
    for (const f of [...old, recent]) {
      writeFileSync(join(out, f), '{"request_body":"secret prompt"}\n');
      writeFileSync(join(out, `${f}.manifest.json`), '{}\n');
    }
    for (const f of others) writeFileSync(join(out, f), 'x');
    const schedule = { every: 'daily' as const, format: 'jsonl' as const, dir: out, filter: `team=hold-${tag}` };
    const retention = RetentionConfig.parse({ bodies: '10d' });
    const now = DAY; // 2026-11-10: the 2026-10-20 file's period ended 20 days ago, the 2026-11-08 one's a day ago

    // A hold on the team the files hold: nothing goes, past its time or not.
    const at = new Date().toISOString();
    const hold = { id: `hold-${tag}`, version: 1, kind: 'team' as const, value: `hold-${tag}`, reason: 'litigation', active: true, created_at: at, updated_at: at, updated_by: 'test' };
    await writeHold(store, hold);
    expect(await expireExports(store, schedule, retention, now)).toEqual({ removed: [], held: 2 });
    // A hold of another team does not cover these files; this one lifted, they go.
    await writeHold(store, { ...hold, id: `other-${tag}`, value: `other-${tag}` });
    await writeHold(store, { ...hold, version: 2, active: false });
    const r = await expireExports(store, schedule, retention, now);
    expect(r).toEqual({ removed: old.map((f) => join(out, f)), held: 0 });
    expect(readdirSync(out).sort()).toEqual([...others, recent, `${recent}.manifest.json`].sort());
    const audited = (await listAudit(store, { action: 'export.expire', limit: 100 })).filter((a) => a.target.startsWith('gatelog-daily-2026-10-'));
    expect(audited.map((a) => a.target).sort()).toEqual(old);
    expect(audited[0]).toMatchObject({ actor: 'scheduler', role: 'system' });
    expect(JSON.parse(audited[0]!.details)).toMatchObject({ keep: '10d', every: 'daily', format: 'jsonl' });
    // Run again: nothing left to do, nothing audited twice.
    expect(await expireExports(store, schedule, retention, now)).toEqual({ removed: [], held: 0 });
    expect((await listAudit(store, { action: 'export.expire', limit: 100 })).filter((a) => a.target.startsWith('gatelog-daily-2026-10-'))).toHaveLength(2);
    // keep: forever keeps everything.
    expect(await expireExports(store, { ...schedule, keep: 'forever' }, retention, now + 1e12)).toEqual({ removed: [], held: 0 });
    expect(existsSync(join(out, recent))).toBe(true);
  });

  it('applies an erasure asked while its rows were being read to the file it writes', async () => {
    const team = `race-${tag}`;
    const day = DAY + 7 * 86_400_000;
    await store.insertRaw('llm_calls', Buffer.from([call(day + 1000, team), call(day + 2000, 'b')].join('\n')));
    // Recorded, its mutation not run yet: what an export reading at that moment sees.
    await recordErasure(store, EraseRequest.parse({ user: 'u', teams: [team] }), Date.now());
    const out = join(dir, 'race');
    const file = await runScheduledExport(store, { every: 'daily', format: 'jsonl', dir: out, filter: `tags=run%3D${tag}` }, day + 86_400_000 + 1);
    const rows = readFileSync(file!, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { team: string; user: string; request_body: string });
    expect(rows.map((r) => r.team).sort()).toEqual(['b', team].sort());
    expect(rows.find((r) => r.team === team)).toMatchObject({ user: '', request_body: '' });
    expect(rows.find((r) => r.team === 'b')).toMatchObject({ user: 'u', request_body: '{"q":1}' });
    const manifest = JSON.parse(readFileSync(`${file!}.manifest.json`, 'utf8')) as { erasures?: unknown[]; sha256: string };
    expect(manifest.erasures).toHaveLength(1);
    expect(manifest.sha256).toBe(createHash('sha256').update(readFileSync(file!)).digest('hex'));
  });

  it('two rewrites of one file at once both land (one at a time), and a crash\'s leftovers go after an hour', async () => {
    const out = join(dir, 'concurrent');
    mkdirSync(out, { recursive: true });
    const file = join(out, 'gatelog-daily-2026-11-01T000000Z.jsonl');
    const line = (user: string): string => JSON.stringify({ request_id: randomUUID(), started_at: '2026-11-01T01:00:00.000Z', user, key_id: '', team: '', request_body: `secret of ${user}`, response_body: '{}', error_message: '' });
    writeFileSync(file, `${[line('ann'), line('ben'), line('cy')].join('\n')}\n`);
    const rule = (user: string) => ({ id: `erase_${user}`, at: Date.now(), rows: false, rule: { match: (e: Record<string, unknown>) => e['user'] === user, alsoClear: ['user'] } });
    const [a, b] = await Promise.all([scrubExportFile(store, file, 'jsonl', [rule('ann')]), scrubExportFile(store, file, 'jsonl', [rule('ben')])]);
    expect([a, b]).toEqual([{ rows: 1, removed: 0 }, { rows: 1, removed: 0 }]);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('secret of ann');
    expect(text).not.toContain('secret of ben');
    expect(text).toContain('secret of cy');
    expect(readdirSync(out)).toEqual(['gatelog-daily-2026-11-01T000000Z.jsonl']);

    const stale = `${file}.erasing-123-abcdef01`;
    const fresh = `${file}.partial`;
    writeFileSync(stale, 'secret of ann');
    writeFileSync(fresh, 'being written');
    utimesSync(stale, new Date(Date.now() - 2 * 3_600_000), new Date(Date.now() - 2 * 3_600_000));
    await expireExports(store, { every: 'daily', format: 'jsonl', dir: out, filter: '', keep: 'forever' }, RetentionConfig.parse({}), Date.now());
    expect(readdirSync(out).sort()).toEqual(['gatelog-daily-2026-11-01T000000Z.jsonl', 'gatelog-daily-2026-11-01T000000Z.jsonl.partial']);
  });
});
