// The request page's timelines (ui/src/lib/timeline.ts), table-tested: no TTFT without a token,
// the upstream wait of a failed call, and retry waits placed from the attempts' start times.
import { describe, expect, it } from 'vitest';
import { attemptTimeline, firstTokenMs, latencyPhases } from '../../ui/src/lib/timeline.ts';

const call = { status: 200, outcome: 'success', ttft_ms: 120, latency_ms: 400, overhead_ms: 10 };

describe('latency phases', () => {
  it.each([
    ['success', call, 120, ['proxy overhead', 'time to first token', 'total']],
    ['upstream error (its error body was the first byte)', { ...call, status: 500, outcome: 'error' }, null, ['proxy overhead', 'upstream, until the error', 'total']],
    ['network failure', { ...call, status: 0, outcome: 'error', ttft_ms: null }, null, ['proxy overhead', 'upstream, until the error', 'total']],
    ['client left before a token', { ...call, status: 499, outcome: 'client_aborted' }, null, ['proxy overhead', 'upstream, until the client left', 'total']],
    ['refused by gatelog', { ...call, status: 429, outcome: 'refused' }, null, ['proxy overhead', 'total']],
    ['stream cut after tokens', { ...call, status: 200, outcome: 'partial' }, 120, ['proxy overhead', 'time to first token', 'total']],
  ])('%s', (_name, c, ttft, labels) => {
    expect(firstTokenMs(c)).toBe(ttft);
    expect(latencyPhases(c).map((s) => s.label)).toEqual(labels);
  });

  it('the upstream wait of a failed call starts at the first dispatch and lasts the upstream time', () => {
    const [, up] = latencyPhases({ ...call, status: 502, outcome: 'error', attempt_starts: [4] });
    expect(up).toMatchObject({ startMs: 4, durationMs: 390, error: true });
  });
});

describe('attempt timeline', () => {
  const attempts = [
    { provider: 'a', model: 'm', status: 429, error_class: 'http_429', latency_ms: 20 },
    { provider: 'a', model: 'm', status: 200, error_class: '', latency_ms: 50 },
  ];

  it('places each attempt at its start and draws the wait between them', () => {
    const t = attemptTimeline(attempts, [5, 625], { latency_ms: 690, overhead_ms: 15 });
    expect(t.spans.map((s) => [s.label, s.startMs, s.durationMs, s.kind ?? ''])).toEqual([
      ['#1 a/m → 429', 5, 20, ''],
      ['wait before #2', 25, 600, 'wait'],
      ['#2 a/m → 200', 625, 50, ''],
    ]);
    expect(t.unplacedWaitMs).toBe(0);
  });

  it('without start times (older calls) the attempts sit back to back and the wait is only reported', () => {
    const t = attemptTimeline(attempts, [], { latency_ms: 690, overhead_ms: 15 });
    expect(t.spans.map((s) => s.startMs)).toEqual([0, 20]);
    expect(t.spans.some((s) => s.kind === 'wait')).toBe(false);
    expect(t.unplacedWaitMs).toBe(605);
  });

  it('no wait for back-to-back attempts or a single attempt', () => {
    expect(attemptTimeline(attempts, [0, 20.4]).spans).toHaveLength(2);
    expect(attemptTimeline(attempts.slice(0, 1), [], { latency_ms: 690, overhead_ms: 15 }).unplacedWaitMs).toBe(0);
  });
});
