// Live state of one upstream deployment (provider + model), shared by every alias that uses
// it: requests in flight, EWMA of time to first byte, and the cooldown circuit
// (N retryable failures within a window → skipped for cooldown_ms → one probe → healthy or cooled again).
import type { Provider } from '../providers/types.ts';

export interface CooldownSettings {
  failures: number;
  window_ms: number;
  cooldown_ms: number;
}

export type Health = 'ok' | 'cooling' | 'probe';

/** Weight of the newest latency sample in the moving average. */
const EWMA_ALPHA = 0.3;
const MAX_ERROR_TEXT = 200;

export class DeploymentState {
  readonly provider: Provider;
  readonly model: string;
  readonly cooldown: CooldownSettings;
  readonly aliases: string[] = [];
  inFlight = 0;
  /** EWMA of attempt latency to first byte, ms; -1 before the first sample. */
  ewmaMs = -1;
  /** Clock ms until which the deployment is skipped; 0 = healthy. */
  cooldownUntil = 0;
  /** A probe after the cooldown is in flight: others keep skipping until it answers. */
  probing = false;
  totalFailures = 0;
  lastError = '';
  /** Requests per minute this deployment may take (config `rpm`; 0: no limit). Per process, fixed window. */
  rpm = 0;
  private minuteStart = 0;
  private minuteCount = 0;
  /** Clock ms of recent retryable failures (pruned to the window). */
  private readonly fails: number[] = [];

  constructor(provider: Provider, model: string, cooldown: CooldownSettings) {
    this.provider = provider;
    this.model = model;
    this.cooldown = cooldown;
  }

  health(now: number): Health {
    if (this.cooldownUntil === 0) return 'ok';
    if (now < this.cooldownUntil || this.probing) return 'cooling';
    return 'probe';
  }

  /** An attempt starts on this deployment. */
  begin(now: number): void {
    this.inFlight++;
    if (this.rpm > 0) {
      if (now - this.minuteStart >= 60_000) {
        this.minuteStart = now;
        this.minuteCount = 0;
      }
      this.minuteCount++;
    }
    if (this.cooldownUntil !== 0 && now >= this.cooldownUntil) this.probing = true;
  }

  /** The upstream answered (any non-retryable status counts: it is alive). */
  succeed(latencyMs: number): void {
    this.ewmaMs = this.ewmaMs < 0 ? latencyMs : this.ewmaMs + EWMA_ALPHA * (latencyMs - this.ewmaMs);
    if (this.cooldownUntil !== 0 || this.fails.length > 0) {
      this.cooldownUntil = 0;
      this.probing = false;
      this.fails.length = 0;
    }
  }

  /** The attempt failed in a retryable way (429, 5xx, network, timeout). */
  fail(now: number, errorClass: string): void {
    this.totalFailures++;
    this.lastError = errorClass.slice(0, MAX_ERROR_TEXT);
    const c = this.cooldown;
    if (this.probing) {
      // The probe failed: straight back into cooldown.
      this.probing = false;
      this.cooldownUntil = now + c.cooldown_ms;
      return;
    }
    if (c.failures === 0) return;
    this.prune(now);
    this.fails.push(now);
    if (this.fails.length >= c.failures) {
      this.cooldownUntil = now + c.cooldown_ms;
      this.fails.length = 0;
    }
  }

  /** The attempt is over (answered, failed, or the client went away): frees its slot and an undecided probe. */
  end(): void {
    this.inFlight--;
    this.probing = false;
  }

  /** Its `rpm` is used up for the current minute: routing prefers other deployments. */
  atLimit(now: number): boolean {
    return this.rpm > 0 && this.minuteCount >= this.rpm && now - this.minuteStart < 60_000;
  }

  recentFailures(now: number): number {
    this.prune(now);
    return this.fails.length;
  }

  private prune(now: number): void {
    const from = now - this.cooldown.window_ms;
    let i = 0;
    while (i < this.fails.length && this.fails[i]! < from) i++;
    if (i > 0) this.fails.splice(0, i);
  }
}
