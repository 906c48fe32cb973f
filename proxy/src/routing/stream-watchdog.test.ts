import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StreamWatchdog } from './stream-watchdog.ts';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

function dog(o: { idleMs: number; deadlineIn: number; keepaliveMs: number }) {
  const timeouts: string[] = [];
  let keepalives = 0;
  const now = performance.now();
  const d = new StreamWatchdog(
    { idleMs: o.idleMs, deadline: now + o.deadlineIn, keepaliveMs: o.keepaliveMs, keepalive: () => void keepalives++, onTimeout: (cls) => void timeouts.push(cls) },
    now,
  );
  return { d, timeouts, keepalives: () => keepalives };
}

describe('stream watchdog', () => {
  it('fires the idle timeout only after a silence, not while chunks flow', () => {
    const w = dog({ idleMs: 100, deadlineIn: 10_000, keepaliveMs: 0 });
    for (let i = 0; i < 5; i++) {
      vi.advanceTimersByTime(60);
      w.d.lastChunk = performance.now();
    }
    expect(w.timeouts).toEqual([]);
    vi.advanceTimersByTime(101);
    expect(w.timeouts).toEqual(['upstream_idle_timeout']);
  });

  it('the total deadline ends even a stream that keeps flowing', () => {
    const w = dog({ idleMs: 100, deadlineIn: 300, keepaliveMs: 0 });
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(50);
      w.d.lastChunk = performance.now();
    }
    expect(w.timeouts).toEqual(['deadline_exceeded']);
  });

  it('sends keepalives during a silence shorter than the idle timeout, and stops cleanly', () => {
    const w = dog({ idleMs: 1000, deadlineIn: 10_000, keepaliveMs: 100 });
    vi.advanceTimersByTime(450);
    expect(w.keepalives()).toBe(4);
    w.d.stop();
    vi.advanceTimersByTime(5000);
    expect(w.keepalives()).toBe(4);
    expect(w.timeouts).toEqual([]);
  });
});

describe('stream watchdog under backpressure', () => {
  it('a slow client (held) is not an idle upstream; the idle clock restarts on release', () => {
    const w = dog({ idleMs: 100, deadlineIn: 10_000, keepaliveMs: 30 });
    w.d.hold();
    vi.advanceTimersByTime(1000);
    expect(w.timeouts).toEqual([]);
    w.d.release(performance.now());
    vi.advanceTimersByTime(99);
    expect(w.timeouts).toEqual([]);
    vi.advanceTimersByTime(2);
    expect(w.timeouts).toEqual(['upstream_idle_timeout']);
  });
});
