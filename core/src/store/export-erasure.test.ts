// Which export files an erasure must read row by row: `mayHold` rules a file out only when
// every erasure names a value found nowhere in its bytes (read in 1 MiB chunks, so a value
// split across two chunks must still be found).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { jsonText } from './scrub-event.ts';
import { mayHold, type ExportErasure } from './export-erasure.ts';

const dir = mkdtempSync(join(tmpdir(), 'gatelog-export-erasure-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const erasure = (needle: string | undefined): ExportErasure => ({ id: 'erase_1', at: Date.now(), rows: false, rule: { match: () => true, ...(needle === undefined ? {} : { needle }) } });

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('mayHold', () => {
  const MiB = 1 << 20;
  // "alice@example.com" straddles the first 1 MiB chunk's end (it starts 4 bytes before it).
  const needle = jsonText('alice@example.com');
  const straddling = `${'x'.repeat(MiB - 12)}"user":"alice@example.com"\n${'y'.repeat(1000)}\n`;
  const big = file('straddle.jsonl', straddling);
  const other = file('other.jsonl', `${'{"user":"bob"}\n'.repeat(200_000)}`);

  it('finds a named value anywhere, across chunk boundaries', async () => {
    expect(await mayHold(big, 'jsonl', [erasure(needle)])).toBe(true);
    expect(await mayHold(other, 'jsonl', [erasure(jsonText('bob'))])).toBe(true);
  });

  it('rules out a file none of the named values appears in', async () => {
    expect(await mayHold(other, 'jsonl', [erasure(needle)])).toBe(false);
    expect(await mayHold(other, 'jsonl', [erasure(needle), erasure(jsonText('carol'))])).toBe(false);
    expect(await mayHold(join(dir, 'gone.jsonl'), 'jsonl', [erasure(needle)])).toBe(false);
  });

  it('cannot rule out a file for an erasure that names no value (before a date), or a CSV for a value JSON escapes', async () => {
    expect(await mayHold(other, 'jsonl', [erasure(needle), erasure(undefined)])).toBe(true);
    const csv = file('quoted.csv', 'user,team\r\n"say ""hi""",a\r\n');
    expect(await mayHold(csv, 'csv', [erasure(jsonText('say "hi"'))])).toBe(true);
    expect(await mayHold(csv, 'csv', [erasure(jsonText('dave'))])).toBe(false);
  });
});
