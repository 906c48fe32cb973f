import { describe, expect, it } from 'vitest';
import { newRequestId } from './ids.ts';

describe('newRequestId', () => {
  it('makes unique, time-ordered UUIDv7s across pool refills', () => {
    const ids = Array.from({ length: 2000 }, () => newRequestId());
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    // The 48-bit millisecond prefix never goes backwards.
    const ms = ids.map((id) => parseInt(id.replace(/-/g, '').slice(0, 12), 16));
    for (let i = 1; i < ms.length; i++) expect(ms[i]).toBeGreaterThanOrEqual(ms[i - 1]!);
    expect(Math.abs(ms.at(-1)! - Date.now())).toBeLessThan(5_000);
  });
});
