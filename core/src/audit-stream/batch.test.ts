// Which pending audit rows a sink's next batch takes: per chain in seq order from the cursor,
// duplicates passed over, a missing seq waited for and only then skipped (and reported).
import { describe, expect, it } from 'vitest';
import type { AuditRow } from '../store/audit.ts';
import { nextBatch } from './batch.ts';

const row = (chain_id: string, seq: number): AuditRow => ({
  id: `${chain_id}-${seq}`, at: '2026-12-05T06:00:00.000Z', chain_id, seq, prev_hash: '', row_hash: '', actor: 'a', role: '', action: 'key.create',
  target_type: '', target: '', details: '{}', source_ip: '', user_agent: '',
});
const ids = (rows: AuditRow[]): string[] => rows.map((r) => `${r.chain_id}:${r.seq}`);

describe('nextBatch', () => {
  it('takes every chain from its cursor on, in seq order, and names the new heads', () => {
    const b = nextBatch([row('a', 3), row('a', 4), row('b', 1), row('b', 2)], new Map([['a', 2]]), new Map(), 0, 1000);
    expect(ids(b.rows)).toEqual(['a:3', 'a:4', 'b:1', 'b:2']);
    expect([...b.heads]).toEqual([['a', 4], ['b', 2]]);
    expect(b.skipped).toEqual([]);
  });

  it('starts a chain after the rows the trail\'s retention expired, without waiting or reporting a gap', () => {
    const gaps = new Map<string, number>();
    const b = nextBatch([row('a', 7), row('a', 8), row('b', 3)], new Map([['b', 1]]), gaps, 0, 5000, new Map([['a', 6], ['b', 1]]));
    // a: rows 1..6 expired, so 7 follows; b: its cursor is past the cut, and 2 is still a gap.
    expect(ids(b.rows)).toEqual(['a:7', 'a:8']);
    expect(b.skipped).toEqual([]);
    expect([...gaps.keys()]).toEqual(['b']);
  });

  it('passes over a row already sent or stored twice', () => {
    const b = nextBatch([row('a', 2), row('a', 3), row('a', 3), row('a', 4)], new Map([['a', 2]]), new Map(), 0, 1000);
    expect(ids(b.rows)).toEqual(['a:3', 'a:4']);
  });

  it('waits for a missing seq, other chains going on; sends past it only after gap_wait, reporting it', () => {
    const gaps = new Map<string, number>();
    const pending = [row('a', 1), row('a', 4), row('a', 5), row('b', 1)];
    const first = nextBatch(pending, new Map(), gaps, 1000, 5000);
    expect(ids(first.rows)).toEqual(['a:1', 'b:1']);
    expect(gaps.get('a')).toBe(1000);
    const later = [row('a', 4), row('a', 5)];
    const cursors = new Map([['a', 1], ['b', 1]]);
    expect(ids(nextBatch(later, cursors, gaps, 5999, 5000).rows)).toEqual([]);
    const given = nextBatch(later, cursors, gaps, 6000, 5000);
    expect(ids(given.rows)).toEqual(['a:4', 'a:5']);
    expect(given.skipped).toEqual([{ chain_id: 'a', from: 2, to: 3 }]);
    expect(gaps.size).toBe(0);
  });

  it('forgets a gap once the missing row shows up', () => {
    const gaps = new Map<string, number>();
    nextBatch([row('a', 3)], new Map([['a', 1]]), gaps, 0, 5000);
    expect(gaps.has('a')).toBe(true);
    const b = nextBatch([row('a', 2), row('a', 3)], new Map([['a', 1]]), gaps, 100, 5000);
    expect(ids(b.rows)).toEqual(['a:2', 'a:3']);
    expect(gaps.size).toBe(0);
  });
});
