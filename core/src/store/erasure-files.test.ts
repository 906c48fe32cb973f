// The scrub of the files under a data dir, a chunk at a time between turns of the event loop:
// it leaves exactly the bytes the one-step scrub (whole segments read at once, below) left, it
// keeps the loop free while it reads a large log, several rules go in one pass, and lines ingest
// appends to the dead-letter file during a scrub are kept (and scrubbed).
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { listSegments, RECORD_HEADER_BYTES, segmentName } from '../bus/local-log.ts';
import { spoolDirOf, spoolLogDir } from '../bus/spool-layout.ts';
import { scrubbedEvent, scrubDataDir, scrubDeadLetters, scrubLogDir, type ScrubResult, type ScrubRule } from './erasure-files.ts';

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'gatelog-erasure-files-'));
  roots.push(d);
  return d;
}

const DAY = 86_400_000;
const NOW = Date.parse('2026-06-01T00:00:00Z');

function event(i: number, user: string, bodyBytes: number, over: Record<string, unknown> = {}): Record<string, unknown> {
  const text = `secret ${user} ${String(i)} é "q" \\ `.repeat(Math.max(1, Math.ceil(bodyBytes / 30)));
  return {
    schema_version: 1, request_id: `req-${String(i)}`, started_at: new Date(NOW - (i % 7) * DAY).toISOString(), trace_id: `trace-${String(i % 5)}`,
    user, key_id: `key_${String(i % 3)}`, team: '', status: 200, request_body: JSON.stringify({ messages: [{ role: 'user', content: text }] }),
    response_body: `{"answer":${JSON.stringify(text)}}`, error_message: i % 4 === 0 ? `failed for ${user}` : '',
    attempt_io: i % 5 === 0 ? [{ provider_request_id: `p-${String(i)}`, request_body: 'rq', request_sha256: 'a'.repeat(64), response_body: 'rs', response_sha256: 'b'.repeat(64), request_bytes: 2 }] : [],
    ...over,
  };
}

function frame(payload: Buffer, crc = crc32(payload)): Buffer {
  const h = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
  h.writeUInt32LE(payload.length, 0);
  h.writeUInt32LE(crc, 4);
  return Buffer.concat([h, payload]);
}

/** Records as a log writer lays them out: a new segment once one reaches `segmentBytes`. */
function writeLog(dir: string, records: readonly Buffer[], segmentBytes: number, tail: Uint8Array = new Uint8Array(0)): void {
  mkdirSync(dir, { recursive: true });
  let base = 0;
  let seg: Buffer[] = [];
  let size = 0;
  const flush = (extra: Uint8Array): void => {
    writeFileSync(join(dir, segmentName(base)), Buffer.concat([...seg, extra]));
    base += size;
    seg = [];
    size = 0;
  };
  for (const r of records) {
    if (size >= segmentBytes) flush(new Uint8Array(0));
    seg.push(r);
    size += r.length;
  }
  flush(tail);
}

/** A data dir with every case the scrub meets: records straddling chunks, records larger than one, a bad checksum, a torn tail. */
function fixture(): string {
  const dataDir = tempDir();
  const users = ['alice', 'bob', 'carol'];
  const events: Buffer[] = [];
  for (let i = 0; i < 90; i++) {
    const user = users[i % 3] ?? 'bob';
    // Mostly small, some 100 KiB, two larger than the 1 MiB a segment is read by.
    const bytes = i === 17 || i === 61 ? 1_300_000 : i % 10 === 3 ? 100_000 : 40 + ((i * 997) % 6000);
    events.push(frame(Buffer.from(JSON.stringify(event(i, user, bytes)))));
  }
  // Nothing left to empty; not JSON; a bad checksum (left alone, as a reader would skip it).
  events.push(frame(Buffer.from(JSON.stringify(event(90, 'alice', 10, { request_body: '', response_body: '', error_message: '', user: '' })))));
  events.push(frame(Buffer.from('{"user":"alice", not json')));
  events.push(frame(Buffer.from(JSON.stringify(event(92, 'alice', 300))), 12345));
  writeLog(join(dataDir, 'events'), events, 2 << 20, frame(Buffer.from(JSON.stringify(event(93, 'alice', 500)))).subarray(0, 200));
  writeLog(spoolLogDir(spoolDirOf(dataDir)), events.slice(0, 40).reverse(), 1 << 20);
  const letter = (i: number, user: string, over: Record<string, unknown> = {}): string =>
    JSON.stringify({ at: '2026-05-30T00:00:00.000Z', table: 'llm_calls', reason: { code: '27', type: 'CANNOT_PARSE', message: 'x' }, record: JSON.stringify(event(i, user, 300)), ...over });
  const lines = [letter(100, 'alice'), letter(101, 'bob'), '', 'not json', letter(102, 'alice', { record: undefined, record_base64: 'AAAA' }), letter(103, 'carol'), letter(104, 'alice', { record: 'alice but not json' })];
  // The last line without its newline (as a crash would leave it).
  writeFileSync(join(dataDir, 'dead-letter.jsonl'), `${lines.join('\n')}\n${letter(105, 'alice')}`);
  return dataDir;
}

/** The scrub of one log directory as it ran in one step (each segment read whole): the reference. */
function oneStepLog(dir: string, rule: ScrubRule, below = Number.POSITIVE_INFINITY): ScrubResult {
  const res: ScrubResult = { records: 0, bytes: 0, files: 0 };
  for (const base of listSegments(dir)) {
    if (base >= below) break;
    const path = join(dir, segmentName(base));
    const data = readFileSync(path);
    let pos = 0;
    let touched = false;
    while (pos + RECORD_HEADER_BYTES <= data.length) {
      const len = data.readUInt32LE(pos);
      const end = pos + RECORD_HEADER_BYTES + len;
      if (len === 0 || end > data.length || base + end > below) break;
      const payload = data.subarray(pos + RECORD_HEADER_BYTES, end);
      const out = scrubbedEvent(payload, rule);
      if (out && out.length <= len && crc32(payload) === data.readUInt32LE(pos + 4)) {
        const next = Buffer.concat([out, Buffer.alloc(len - out.length, 0x20)]);
        data.writeUInt32LE(crc32(next), pos + 4);
        next.copy(data, pos + RECORD_HEADER_BYTES);
        res.records++;
        res.bytes += len;
        touched = true;
      }
      pos = end;
    }
    if (touched) {
      writeFileSync(path, data);
      res.files++;
    }
  }
  return res;
}

/** The dead-letter scrub as it ran in one step: the reference. */
function oneStepDeadLetters(path: string, rule: ScrubRule): ScrubResult {
  const res: ScrubResult = { records: 0, bytes: 0, files: 0 };
  let changed = false;
  const out = readFileSync(path, 'utf8').split('\n').map((line) => {
    if (line === '' || (rule.needle !== undefined && !line.includes(rule.needle))) return line;
    try {
      const dl = JSON.parse(line) as { record?: string };
      if (typeof dl.record !== 'string') return line;
      const next = scrubbedEvent(Buffer.from(dl.record), rule);
      if (!next || next.length > Buffer.byteLength(dl.record)) return line;
      res.records++;
      res.bytes += Buffer.byteLength(dl.record);
      changed = true;
      return JSON.stringify({ ...dl, record: next.toString('utf8') });
    } catch {
      return line;
    }
  });
  if (changed) {
    writeFileSync(path, out.join('\n'));
    res.files = 1;
  }
  return res;
}

function oneStepDataDir(dataDir: string, rule: ScrubRule): ScrubResult {
  const parts = [oneStepLog(join(dataDir, 'events'), rule), oneStepLog(spoolLogDir(spoolDirOf(dataDir)), rule), oneStepDeadLetters(join(dataDir, 'dead-letter.jsonl'), rule)];
  return parts.reduce((a, b) => ({ records: a.records + b.records, bytes: a.bytes + b.bytes, files: a.files + b.files }));
}

/** Every file under `dir`, by path, with its bytes. */
function contents(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else files.set(relative(dir, p), readFileSync(p));
    }
  };
  walk(dir);
  return files;
}

/** The same files with the same bytes under both (compared as buffers: a deep equal of megabytes is slow). */
function expectSameFiles(dir: string, reference: string): void {
  const [got, want] = [contents(dir), contents(reference)];
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  for (const [path, bytes] of got) expect(bytes.equals(want.get(path) ?? Buffer.alloc(0)), path).toBe(true);
}

function twins(): [string, string] {
  const a = fixture();
  const b = tempDir();
  cpSync(a, b, { recursive: true });
  return [a, b];
}

const alice: ScrubRule = { match: (e) => e['user'] === 'alice', alsoClear: ['user'], needle: 'alice' };
const older: ScrubRule = { match: (e) => Date.parse(String(e['started_at'])) < NOW - 3 * DAY };

describe('scrub of the files under a data dir', () => {
  it.each([
    ['an erasure (a needle, and the user cleared)', alice],
    ['a retention sweep (no needle: every record parsed)', older],
  ])('leaves the bytes the one-step scrub left: %s', async (_name, rule) => {
    const [dataDir, reference] = twins();
    const before = contents(dataDir);
    const res = await scrubDataDir(dataDir, [rule]);
    expect(res).toEqual(oneStepDataDir(reference, rule));
    expect(res.records).toBeGreaterThan(20);
    expectSameFiles(dataDir, reference);
    const after = contents(dataDir);
    // Segments keep their sizes; no temporary file is left behind.
    for (const [path, bytes] of before) if (path.endsWith('.log')) expect(after.get(path)?.length).toBe(bytes.length);
    expect(after.has(`dead-letter.jsonl.scrub-${String(process.pid)}`)).toBe(false);
  });

  it('stops at `below` as the one-step scrub did', async () => {
    const [dataDir, reference] = twins();
    const dir = (d: string): string => spoolLogDir(spoolDirOf(d));
    const below = (listSegments(dir(dataDir))[1] ?? 0) + 300_000;
    const res = await scrubLogDir(dir(dataDir), [older], { below });
    expect(res).toEqual(oneStepLog(dir(reference), older, below));
    expect(res.records).toBeGreaterThan(0);
    expectSameFiles(dataDir, reference);
  });

  it('scrubs for several rules in one pass what a pass per rule scrubbed, each rule clearing its own fields', async () => {
    const [dataDir, reference] = twins();
    const ids = (ns: number[]): Set<string> => new Set(ns.map((n) => `req-${String(n)}`));
    const [some, others] = [ids([1, 4, 17, 33, 100, 105]), ids([2, 61, 35, 103])];
    const a: ScrubRule = { match: (e) => some.has(String(e['request_id'])), alsoClear: ['key_id'], needle: 'req-' };
    const b: ScrubRule = { match: (e) => others.has(String(e['request_id'])), alsoClear: ['trace_id'] };
    const res = await scrubDataDir(dataDir, [a, b]);
    const one = oneStepDataDir(reference, a);
    const two = oneStepDataDir(reference, b);
    expect(res.records).toBe(one.records + two.records);
    expect(res.bytes).toBe(one.bytes + two.bytes);
    expectSameFiles(dataDir, reference);
  });

  it('keeps, and scrubs, the dead letters ingest appends while the file is scrubbed', async () => {
    const path = join(tempDir(), 'dead-letter.jsonl');
    const line = (i: number, user: string): string => `${JSON.stringify({ at: 'x', table: 'llm_calls', reason: { code: '1' }, record: JSON.stringify(event(i, user, 1000)) })}\n`;
    writeFileSync(path, Array.from({ length: 2000 }, (_, i) => line(i, i % 2 ? 'alice' : 'bob')).join(''));
    // Ingest appends synchronously, between any two of the scrub's steps.
    let appended = 0;
    const ingest = setInterval(() => {
      appendFileSync(path, line(10_000 + appended, appended % 2 ? 'alice' : 'bob'));
      appended++;
    }, 1);
    let res: ScrubResult;
    try {
      res = await scrubDeadLetters(path, [alice]);
    } finally {
      clearInterval(ingest);
    }
    expect(appended).toBeGreaterThan(0);
    const records = readFileSync(path, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse((JSON.parse(l) as { record: string }).record) as { request_id: string; user: string; request_body: string });
    expect(records.map((r) => r.request_id)).toEqual([...Array.from({ length: 2000 }, (_, i) => `req-${String(i)}`), ...Array.from({ length: appended }, (_, i) => `req-${String(10_000 + i)}`)]);
    expect(records.filter((r) => r.request_body.includes('secret alice'))).toEqual([]);
    expect(records.filter((r) => r.user === 'bob' && r.request_body.includes('secret bob'))).toHaveLength(1000 + Math.ceil(appended / 2));
    expect(res.records).toBe(1000 + Math.floor(appended / 2));
  });

  it('runs two scrubs of one directory one after the other: neither puts back what the other emptied', async () => {
    const dir = tempDir();
    writeLog(dir, Array.from({ length: 400 }, (_, i) => frame(Buffer.from(JSON.stringify(event(i, i % 2 ? 'alice' : 'bob', 5000))))), 256 << 10);
    const everyone: ScrubRule = { match: () => true };
    await Promise.all([scrubLogDir(dir, [everyone]), scrubLogDir(dir, [alice]), scrubLogDir(dir, [everyone])]);
    const events: Record<string, unknown>[] = [];
    for (const base of listSegments(dir)) {
      const data = readFileSync(join(dir, segmentName(base)));
      for (let pos = 0; pos < data.length; pos += RECORD_HEADER_BYTES + data.readUInt32LE(pos)) {
        const payload = data.subarray(pos + RECORD_HEADER_BYTES, pos + RECORD_HEADER_BYTES + data.readUInt32LE(pos));
        expect(crc32(payload)).toBe(data.readUInt32LE(pos + 4));
        events.push(JSON.parse(payload.toString()) as Record<string, unknown>);
      }
    }
    expect(events).toHaveLength(400);
    expect(events.filter((e) => e['request_body'] !== '' || e['response_body'] !== '')).toEqual([]);
    expect(events.map((e) => e['user'])).toEqual(Array.from({ length: 400 }, (_, i) => (i % 2 ? '' : 'bob')));
  });

  it('keeps the event loop free while it scrubs a 128 MiB log, which it once held for the whole scrub', async () => {
    const dir = tempDir();
    const SEGMENT = 32 << 20;
    const text = 'lorem ipsum dolor sit amet '.repeat(200);
    let base = 0;
    let n = 0;
    for (let s = 0; s < 4; s++) {
      const records: Buffer[] = [];
      let size = 0;
      while (size < SEGMENT) {
        const r = frame(Buffer.from(JSON.stringify({ request_id: `req-${String(n)}`, user: n % 50 === 0 ? 'target' : `u-${String(n % 97)}`, request_body: text, response_body: text, error_message: '' })));
        records.push(r);
        size += r.length;
        n++;
      }
      writeFileSync(join(dir, segmentName(base)), Buffer.concat(records));
      base += size;
    }
    // The worst case: no needle, so every record is parsed.
    const rule: ScrubRule = { match: (e) => e['user'] === 'target' };
    // The loop's longest busy stretch, in the CPU time of its thread (a descheduled thread on a
    // busy machine is no stall of ours), and in wall time. Before Node 23.9, the process's CPU
    // time: more than the loop's own, never less.
    const { threadCpuUsage } = process as { threadCpuUsage?: () => NodeJS.CpuUsage };
    const threadCpu = (): NodeJS.CpuUsage => (threadCpuUsage ? threadCpuUsage.call(process) : process.cpuUsage());
    let cpu = threadCpu();
    let wall = performance.now();
    const stall = { cpuMs: 0, wallMs: 0 };
    const look = (): void => {
      const c = threadCpu();
      const w = performance.now();
      stall.cpuMs = Math.max(stall.cpuMs, (c.user + c.system - cpu.user - cpu.system) / 1000);
      stall.wallMs = Math.max(stall.wallMs, w - wall);
      [cpu, wall] = [c, w];
    };
    const timer = setInterval(look, 1);
    try {
      await new Promise((r) => setTimeout(r, 5));
      look();
      stall.cpuMs = 0;
      stall.wallMs = 0;
      const res = await scrubLogDir(dir, [rule]);
      look();
      expect(res).toMatchObject({ records: Math.ceil(n / 50), files: 4 });
    } finally {
      clearInterval(timer);
    }
    expect(stall.cpuMs, `longest stall ${stall.cpuMs.toFixed(1)} ms of CPU, ${stall.wallMs.toFixed(1)} ms of wall time`).toBeLessThan(50);
  }, 30_000);
});

describe('scrubbedEvent', () => {
  it('drops an attempt\'s request carried as request_set with the bodies, keeping ids, sizes and flags', () => {
    const e = event(0, 'ann', 100, { attempt_io: [{ provider_request_id: 'p-0', request_body: '', request_set: { model: '"gpt-4o-mini"' }, request_bytes: 120, response_body: 'rs', truncated: false }] });
    const out = scrubbedEvent(Buffer.from(JSON.stringify(e)), { match: () => true });
    const io = (JSON.parse(out!.toString()) as { attempt_io: Record<string, unknown>[] }).attempt_io[0]!;
    expect(io).not.toHaveProperty('request_set');
    expect(io).toMatchObject({ provider_request_id: 'p-0', request_body: '', response_body: '', request_bytes: 120, truncated: false });
    // Nothing but the set left to scrub is still a scrub.
    const bare = { ...e, request_body: '', response_body: '', error_message: '', attempt_io: [{ provider_request_id: 'p-0', request_body: '', request_set: { model: '"m"' } }] };
    expect(JSON.parse(scrubbedEvent(Buffer.from(JSON.stringify(bare)), { match: () => true })!.toString())).not.toHaveProperty('attempt_io.0.request_set');
  });
});
