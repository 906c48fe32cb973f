// Timers of a response already flowing to the client, in one re-armed timeout per call (no
// timer churn per chunk): idle between upstream chunks, the call's total deadline, and SSE
// keepalive comments after a silence — written only between events, so the stream stays
// byte-for-byte what the upstream sent plus whole comment events that parsers skip.
export const KEEPALIVE = Buffer.from(': keepalive\n\n');

export interface WatchdogOptions {
  idleMs: number;
  /** Clock ms (performance.now()) of the call's deadline. */
  deadline: number;
  /** 0: no keepalives (not SSE, or turned off). */
  keepaliveMs: number;
  /** Write a keepalive now if the last write ended an event (else skip this one). */
  keepalive: () => void;
  onTimeout: (errorClass: 'upstream_idle_timeout' | 'deadline_exceeded', message: string) => void;
}

export class StreamWatchdog {
  /** performance.now() of the last upstream chunk; the relay sets it per chunk. */
  lastChunk: number;
  private lastWrite: number;
  private timer: NodeJS.Timeout | null = null;
  /** The client is slow (backpressure paused the upstream): silence is ours, not the upstream's. */
  private held = false;
  private readonly o: WatchdogOptions;

  constructor(o: WatchdogOptions, now: number) {
    this.o = o;
    this.lastChunk = now;
    this.lastWrite = now;
    this.arm(now);
  }

  private arm(now: number): void {
    const o = this.o;
    let due = this.held ? o.deadline : Math.min(this.lastChunk + o.idleMs, o.deadline);
    if (o.keepaliveMs > 0 && !this.held) due = Math.min(due, Math.max(this.lastChunk, this.lastWrite) + o.keepaliveMs);
    this.timer = setTimeout(() => this.check(), Math.max(1, due - now));
    this.timer.unref();
  }

  private check(): void {
    const now = performance.now();
    const o = this.o;
    this.timer = null;
    if (now >= o.deadline) {
      o.onTimeout('deadline_exceeded', 'the call deadline passed while the response was streaming');
      return;
    }
    if (this.held) {
      this.arm(now);
      return;
    }
    if (now - this.lastChunk >= o.idleMs) {
      o.onTimeout('upstream_idle_timeout', `upstream sent nothing for ${o.idleMs} ms mid-response`);
      return;
    }
    if (o.keepaliveMs > 0 && now - Math.max(this.lastChunk, this.lastWrite) >= o.keepaliveMs) {
      // Mid-event (no keepalive possible): wait another period rather than spin.
      o.keepalive();
      this.lastWrite = now;
    }
    this.arm(now);
  }

  /** The relay paused the upstream for a slow client: no idle timeout or keepalive until `release`. */
  hold(): void {
    this.held = true;
  }

  release(now: number): void {
    if (!this.held) return;
    this.held = false;
    this.lastChunk = now;
    if (this.timer) {
      clearTimeout(this.timer);
      this.arm(now);
    }
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
