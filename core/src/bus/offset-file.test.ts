import { closeSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync, writeSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OffsetFile } from './offset-file.ts';

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'gatelog-offset-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('OffsetFile', () => {
  it('stores atomically and loads', async () => {
    const dir = tmp();
    const f = new OffsetFile(join(dir, 'ingest.offset'));
    expect(f.load()).toBe(0);
    await f.store(1234);
    expect(f.load()).toBe(1234);
    await f.store(99);
    expect(f.load()).toBe(99);
    expect(existsSync(`${f.path}.tmp`)).toBe(false);
    expect(readdirSync(dir)).toEqual(['ingest.offset']);
    await expect(f.store(-1)).rejects.toThrow(RangeError);
    await expect(f.store(1.5)).rejects.toThrow(RangeError);
  });

  it('storeSync stores atomically on the calling thread, like store', async () => {
    const dir = tmp();
    const f = new OffsetFile(join(dir, 'relay.offset'));
    f.storeSync(5120);
    expect(f.load()).toBe(5120);
    await f.store(6000);
    f.storeSync(7000, { start: 7000, end: 7100 });
    expect(new OffsetFile(f.path).loadState()).toEqual({ offset: 7000, pending: { start: 7000, end: 7100 } });
    expect(readdirSync(dir)).toEqual(['relay.offset']);
    expect(() => f.storeSync(-3)).toThrow(RangeError);
    expect(f.load()).toBe(7000);
  });

  it('keeps the batch in flight and its identity', async () => {
    const dir = tmp();
    const f = new OffsetFile(join(dir, 'ingest.offset'));
    await f.store(777, { start: 777, end: 900 });
    expect(f.loadState()).toEqual({ offset: 777, pending: { start: 777, end: 900 } });
    await f.store(900);
    expect(f.loadState()).toEqual({ offset: 900, pending: undefined });
    // The identity scopes dedup tokens: a reopened file must keep it.
    const id = f.id;
    await f.store(901);
    expect(new OffsetFile(f.path).id).toBe(id);
    expect(readdirSync(dir)).toEqual(['ingest.offset']);
  });

  it.each([['garbage'], ['{"offset":'], ['null'], ['{"offset":"12"}'], ['{"offset":-4}'], ['{"offset":1.5}']])('loads %s as 0', (content) => {
    const path = join(tmp(), 'o');
    writeFileSync(path, content);
    expect(new OffsetFile(path).load()).toBe(0);
  });

  it('a stale temp file from a crash mid-store does not affect load', async () => {
    const path = join(tmp(), 'o');
    const f = new OffsetFile(path);
    await f.store(42);
    const fd = openSync(`${path}.tmp`, 'w');
    writeSync(fd, '{"off');
    closeSync(fd);
    expect(f.load()).toBe(42);
    await f.store(43);
    expect(f.load()).toBe(43);
  });
});
