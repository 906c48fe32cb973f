import { describe, expect, it } from 'vitest';
import { RowJoiner, classifyInsertError, insertIsolating, joinRows } from './insert-batch.ts';

const rows = (n: number): Buffer[] => Array.from({ length: n }, (_, i) => Buffer.from(`{"i":${i}}`));
const chdbError = (code: number): Error => Object.assign(new Error(`Code: ${code}. DB::Exception: boom`), { code: 'CHDB_INSERT', clickhouseCode: code });

/** A fake table that rejects any insert containing a poison row, like ClickHouse does. */
function fakeTable(poison: (row: string) => boolean) {
  const stored: string[] = [];
  let calls = 0;
  return {
    stored,
    calls: () => calls,
    insert: (bytes: Buffer): Promise<void> => {
      calls++;
      const lines = bytes.toString().split('\n').filter(Boolean);
      if (lines.some(poison)) return Promise.reject(chdbError(27));
      stored.push(...lines);
      return Promise.resolve();
    },
  };
}

describe('classifyInsertError', () => {
  it('recognises data errors by chDB code, HTTP code string and HTTP type', () => {
    expect(classifyInsertError(chdbError(27))).toMatchObject({ data: true, code: '27', type: 'CANNOT_PARSE_INPUT_ASSERTION_FAILED' });
    expect(classifyInsertError(Object.assign(new Error('x'), { code: '72', type: 'CANNOT_PARSE_NUMBER' }))).toMatchObject({ data: true, code: '72' });
    expect(classifyInsertError(Object.assign(new Error('x'), { type: 'CANNOT_PARSE_UUID' }))).toMatchObject({ data: true });
  });

  it('treats everything else as transient, whatever the message says', () => {
    expect(classifyInsertError(chdbError(60)).data).toBe(false); // UNKNOWN_TABLE: fix the schema, keep the data
    expect(classifyInsertError(Object.assign(new Error('Cannot parse input'), { code: 'ECONNREFUSED' }))).toMatchObject({ data: false, code: 'ECONNREFUSED' });
    expect(classifyInsertError(Object.assign(new Error('closed'), { code: 'CHDB_CLOSED' })).data).toBe(false);
    expect(classifyInsertError('string thrown').data).toBe(false);
  });
});

describe('insertIsolating', () => {
  it('joins records as JSONEachRow lines', () => {
    expect(joinRows([Buffer.from('{"a":1}'), Buffer.from('{"a":2}')]).toString()).toBe('{"a":1}\n{"a":2}\n');
  });

  it('inserts a clean batch in one call', async () => {
    const t = fakeTable(() => false);
    const res = await insertIsolating(rows(100), t.insert);
    expect(res).toEqual({ inserted: 100, dead: [] });
    expect(t.calls()).toBe(1);
  });

  it('isolates poison rows by bisection and inserts the rest', async () => {
    const bad = new Set(['{"i":3}', '{"i":64}', '{"i":65}']);
    const t = fakeTable((r) => bad.has(r));
    const errors: boolean[] = [];
    const res = await insertIsolating(rows(100), t.insert, (e) => errors.push(e.data));
    expect(res.inserted).toBe(97);
    expect(res.dead.map((d) => d.record.toString()).sort()).toEqual([...bad].sort());
    expect(res.dead[0]?.reason).toMatchObject({ code: '27', type: 'CANNOT_PARSE_INPUT_ASSERTION_FAILED' });
    expect(t.stored.sort()).toEqual(rows(100).map(String).filter((r) => !bad.has(r)).sort());
    expect(errors.every(Boolean)).toBe(true);
    expect(t.calls()).toBeLessThan(50); // logarithmic, not one insert per row
  });

  it('isolates poison rows the same when every insert body is joined into one reused buffer', async () => {
    const joiner = new RowJoiner();
    const t = fakeTable((r) => [0, 7, 99].includes(JSON.parse(r).i as number));
    const bodies: Buffer[] = [];
    const insert = (bytes: Buffer): Promise<void> => {
      bodies.push(bytes);
      return t.insert(bytes);
    };
    // Rows of varied lengths, so a shorter body after a longer one must not show the old tail.
    const records = Array.from({ length: 100 }, (_, i) => Buffer.from(`{"i":${i}${i % 3 === 0 ? `,"pad":"${'x'.repeat(i)}"` : ''}}`));
    const res = await insertIsolating(records, insert, () => {}, (r) => joiner.join(r));
    expect(res.inserted).toBe(97);
    expect(res.dead.map((d) => JSON.parse(d.record.toString()).i as number).sort((a, b) => a - b)).toEqual([0, 7, 99]);
    expect(t.stored.map((l) => JSON.parse(l).i as number).sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i).filter((i) => ![0, 7, 99].includes(i)));
    // The bodies were views of one buffer: each one, read now, is the newest one's bytes.
    expect(new Set(bodies.map((b) => b.buffer)).size).toBe(1);
  });

  it('RowJoiner gives the exact JSONEachRow bytes of joinRows, growing only when a body is larger', () => {
    const joiner = new RowJoiner();
    const big = rows(50);
    const small = rows(3);
    const a = Buffer.from(joiner.join(big));
    expect(a.equals(joinRows(big))).toBe(true);
    const b = joiner.join(small);
    expect(b.toString()).toBe('{"i":0}\n{"i":1}\n{"i":2}\n');
    expect(joiner.join(big).buffer).toBe(b.buffer);
  });

  it('RowJoiner.forget leaves the last body as it was: the next join writes a new buffer', () => {
    const joiner = new RowJoiner();
    const first = joiner.join(rows(50));
    const before = Buffer.from(first);
    joiner.forget();
    const next = joiner.join(rows(3));
    expect(next.buffer).not.toBe(first.buffer);
    expect(first.equals(before)).toBe(true);
    expect(next.toString()).toBe('{"i":0}\n{"i":1}\n{"i":2}\n');
  });

  it('throws a transient error so the caller retries the whole batch', async () => {
    const err = Object.assign(new Error('down'), { code: 'ECONNREFUSED' });
    await expect(insertIsolating(rows(3), () => Promise.reject(err))).rejects.toBe(err);
  });
});
