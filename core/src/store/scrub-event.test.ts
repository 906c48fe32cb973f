// What a scrub does to one event under an erasure's rule (pure): the event is marked erased
// where its emptied bodies leave room in place, and scrubbed all the same where they do not; a
// retention rule never marks.
import { describe, expect, it } from 'vitest';
import { scrubbedInPlace, type ScrubRule } from './scrub-event.ts';
import { testEvent } from './test-event.ts';

const AT = Date.parse('2026-12-05T03:00:00.000Z');
const erasure: ScrubRule = { match: (e) => e['user'] === 'ann', alsoClear: ['user'], erasedAt: AT };
const retention: ScrubRule = { match: () => true };
const raw = (over: Parameters<typeof testEvent>[0]): Buffer => Buffer.from(JSON.stringify(testEvent(over)));
const parsed = (b: Buffer | null): Record<string, unknown> => JSON.parse(b!.toString('utf8')) as Record<string, unknown>;

describe('scrubbedInPlace', () => {
  it.each([
    ['an erasure, bodies with room for the mark', erasure, { user: 'ann', request_body: 'x'.repeat(200) }, { user: '', request_body: '' }, new Date(AT).toISOString()],
    ['an erasure, bodies shorter than the mark', erasure, { user: 'ann', request_body: '', response_body: 'ok' }, { user: '', request_body: '', response_body: '' }, null],
    ['retention', retention, { user: 'ann', request_body: 'x'.repeat(200) }, { user: 'ann', request_body: '' }, null],
  ] as const)('%s', (_name, rule, over, want, mark) => {
    const before = raw(over);
    const out = scrubbedInPlace(before, [rule]);
    expect(out?.length).toBe(before.length);
    expect(parsed(out)).toMatchObject(want);
    expect(parsed(out)['erased_at'] ?? null).toBe(mark);
  });
});
