// Audit streaming: every row of the audit trail is sent to every configured sink at least once,
// in seq order per chain, off every request path (a timer loop per sink reads the store; the
// action that wrote a row never waits on a sink). After a sink accepts a batch its durable
// cursor (migration 0032) moves, so a restart resends at most the batch in flight (same
// idempotency ids). A failing sink is retried with backoff and jitter `attempts` times, then
// counted as failing, logged loudly (the sink's name and an error code: never its URL, headers
// or secret) and retried from its cursor every max_ms for as long as it fails: rows are never
// dropped. With several gatelogs on one ClickHouse, each sink is forwarded by one of them at a
// time (lease.ts: in ClickHouse, or Redis with state.redis); when it falls silent for lease_ms
// another takes the sink over. A batch refused as too large (413) is halved until the sink
// takes the parts; a single row still refused holds its chain up (retried every max_ms, never
// skipped) while the other chains go on, read ahead of it. How the last delivery went (failing
// since, failures, error code and reason) is stored next to the cursor (migration 0033), so
// every process's status API (status.ts) says the same, and a process taking the sink over
// goes on counting.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Store } from '../store/client.ts';
import type { AuditRow } from '../store/audit.ts';
import { latestAnchor } from '../store/audit-expiry.ts';
import { rowsPastCursors, saveSinkCursors, saveSinkOutcome, sinkCursors, sinkOutcome, type SinkOutcome } from '../store/audit-stream-queries.ts';
import { backoffMs } from '../backoff.ts';
import { postWithRetries, sleep, type DeliveryAttempt } from '../http-delivery.ts';
import { maskUrl } from '../alerts/rule.ts';
import { GATELOG_VERSION } from '../version.ts';
import type { AuditConfig, AuditSink } from './config.ts';
import { nextBatch } from './batch.ts';
import { batchRequest } from './payload.ts';
import { storeLease, type SinkLease } from './lease.ts';
import { failureReason, NOT_FAILING } from './status.ts';

/** What the forwarder reports per sink (the service turns them into metrics). */
export interface AuditStreamHooks {
  forwarded(sink: string, rows: number): void;
  /** Rows of a batch the sink did not accept after all attempts (they stay pending). */
  failed(sink: string, rows: number): void;
  /** Age of the oldest row not yet forwarded, seconds (0: caught up). */
  lag(sink: string, seconds: number): void;
  failing(sink: string, failing: boolean): void;
}

export interface AuditStreamDeps {
  store: Store;
  config: AuditConfig;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Several gatelogs share the store: each sink is leased to one of them at a time. */
  shared: boolean;
  /** Where the lease lives when `shared`; default: the store (lease.ts). */
  lease?: SinkLease | undefined;
  hooks?: Partial<AuditStreamHooks> | undefined;
  now?: (() => number) | undefined;
  random?: (() => number) | undefined;
}

export interface AuditStream {
  /** Ends every loop (a batch in flight is abandoned: it stays pending). */
  stop(): Promise<void>;
}

/** How often, at most, the newest audit.expire anchor is read while a chain shows a gap. */
const EXPIRED_REREAD_MS = 60_000;
/** While the store stays unreachable, its error is logged once a minute, not every poll. */
const STORE_ERROR_LOG_MS = 60_000;

const target = (s: AuditSink): string => maskUrl(s.kind === 'otlp' ? s.endpoint : s.url);
const url = (s: AuditSink): string => (s.kind === 'otlp' ? s.endpoint : s.url);
/** Per chain, the last seq of `rows` (in seq order per chain): the cursor once they are taken. */
const headsOf = (rows: readonly AuditRow[]): Map<string, number> => new Map(rows.map((r) => [r.chain_id, r.seq]));

/** The part of a batch the sink did not take after every attempt. */
interface Refusal {
  rows: number;
  /** Failed attempts. */
  failed: number;
  last: DeliveryAttempt | undefined;
  /** Chains held up by a single row refused as too large (the rest of the batch was tried). */
  stuck: string[];
  /** The sink refused or could not be reached for another reason: the rest of the batch waits. */
  outage: boolean;
}

/** Names the process in the lease and the status API: host, pid and a per-forwarder tag. */
const holderName = (): string => `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;

class SinkForwarder {
  readonly #sink: AuditSink;
  readonly #d: AuditStreamDeps;
  readonly #holder = holderName();
  readonly #gapSince = new Map<string, number>();
  #leader: boolean;
  readonly #lease: SinkLease;
  /** The stored outcome, read once each time this process becomes the sink's forwarder. */
  #outcome: SinkOutcome | undefined;
  #lastClaim = -Infinity;
  #confirming = false;
  #storeErrorLogged = -Infinity;
  /** Chains whose next row the sink refuses as too large: sent after the others, retried every max_ms. */
  #stuck = new Set<string>();
  #stuckRetryAt = -Infinity;
  #expiredThrough: ReadonlyMap<string, number> = new Map();
  #expiredReadAt = -Infinity;

  constructor(sink: AuditSink, d: AuditStreamDeps) {
    this.#sink = sink;
    this.#d = d;
    this.#leader = !d.shared;
    this.#lease = d.lease ?? storeLease(d.store);
  }

  #now(): number {
    return (this.#d.now ?? Date.now)();
  }

  async run(signal: AbortSignal): Promise<void> {
    const c = this.#d.config.stream;
    while (!signal.aborted) {
      let wait = c.poll_ms;
      try {
        wait = await this.#round(signal);
        this.#storeErrorLogged = -Infinity;
      } catch (err) {
        // The store is unreachable: nothing moves, and the next round starts from the cursor again.
        if (this.#now() - this.#storeErrorLogged >= STORE_ERROR_LOG_MS) {
          this.#storeErrorLogged = this.#now();
          this.#d.logger.warn({ sink: this.#sink.name, err, code: 'GATELOG_ERR_AUDIT_STREAM_STORE' }, 'audit streaming could not reach the store or its lease; it goes on from the cursor');
        }
        wait = Math.max(c.poll_ms, c.base_ms);
      }
      await sleep(wait, signal);
    }
  }

  /** One lease check (shared stores) and one batch; returns how long to wait before the next. */
  async #round(signal: AbortSignal): Promise<number> {
    const c = this.#d.config.stream;
    const s = this.#sink;
    if (this.#d.shared && this.#now() - this.#lastClaim >= c.lease_ms / 4) {
      // A claim both asks for the sink and, while held, keeps it.
      this.#lastClaim = this.#now();
      const leader = await this.#lease.claim(s.name, this.#holder, c.lease_ms).catch((err: unknown) => {
        // Unheard, another may take the sink over: stop sending until a claim is answered.
        this.#leader = false;
        throw err;
      });
      if (leader && !this.#leader && !this.#confirming) {
        // Two claims apart before sending: a rival's claim racing this one (not yet visible
        // to the first read) has shown by the second, so two never send at once.
        this.#confirming = true;
        this.#lastClaim = -Infinity;
        return c.poll_ms;
      }
      this.#confirming = false;
      if (leader !== this.#leader) this.#d.logger.info({ sink: s.name, forwarder: this.#holder }, leader ? 'audit sink forwarded by this process' : 'audit sink forwarded by another process');
      if (!leader && this.#leader) {
        // The forwarder reports for the sink: a standby's gauges read as caught up and well.
        this.#d.hooks?.lag?.(s.name, 0);
        this.#d.hooks?.failing?.(s.name, false);
      }
      if (leader && !this.#leader) this.#outcome = undefined;
      this.#leader = leader;
    }
    if (!this.#leader) return c.poll_ms;
    this.#outcome ??= (await sinkOutcome(this.#d.store, s.name)) ?? NOT_FAILING;
    const cursors = await sinkCursors(this.#d.store, s.name);
    const pending = await rowsPastCursors(this.#d.store, cursors, s.batch_rows, [...this.#stuck]);
    const now = this.#now();
    const oldest = pending.reduce((m, r) => Math.min(m, Date.parse(r.at)), now);
    this.#d.hooks?.lag?.(s.name, Math.max(0, now - oldest) / 1000);
    // Between their retries, held-up chains stay out of the batch (they come last, so nothing else waits on them).
    const due = now >= this.#stuckRetryAt;
    const batch = nextBatch(due ? pending : pending.filter((r) => !this.#stuck.has(r.chain_id)), cursors, this.#gapSince, now, c.gap_wait_ms, await this.#expired(now));
    for (const g of batch.skipped) {
      this.#d.logger.error({ sink: s.name, audit_chain: g.chain_id, from_seq: g.from, to_seq: g.to, code: 'GATELOG_ERR_AUDIT_CHAIN_GAP' }, 'audit rows missing from their chain: the rows after them are sent without them (run `gatelog audit verify`)');
    }
    if (batch.rows.length === 0) return c.poll_ms;
    const refused = await this.#deliver(batch.rows, signal);
    if (signal.aborted) return 0;
    const tried = new Set(batch.rows.map((r) => r.chain_id));
    this.#stuck = new Set([...refused?.stuck ?? [], ...[...this.#stuck].filter((ch) => !tried.has(ch))]);
    const retryIn = backoffMs(c.attempts + 32, c, this.#d.random ?? Math.random);
    if (refused) {
      await this.#failing(refused);
      // Every attempt spent: the next round starts over from the cursor after max_ms (jittered).
      if (refused.outage) return retryIn;
      this.#stuckRetryAt = now + retryIn;
    } else if (this.#stuck.size === 0) {
      await this.#recovered();
    }
    // More may be waiting: go on at once.
    return pending.length >= s.batch_rows ? 0 : c.poll_ms;
  }

  /**
   * Per chain, the last seq the trail's retention expired: read (at most once a minute) only
   * while a chain shows a gap, which is what an expiry looks like to a sink that started late.
   */
  async #expired(now: number): Promise<ReadonlyMap<string, number>> {
    if (this.#gapSince.size === 0) return this.#expiredThrough;
    if (now - this.#expiredReadAt >= EXPIRED_REREAD_MS) {
      this.#expiredReadAt = now;
      const a = await latestAnchor(this.#d.store).catch(() => undefined);
      this.#expiredThrough = new Map((a?.anchor.cuts ?? []).map((cut) => [cut.chain_id, cut.through_seq]));
    }
    return this.#expiredThrough;
  }

  /**
   * Sends one batch, moving the cursor after each part the sink takes. A part refused as too
   * large (413) is halved and sent again; a single row still refused stays pending (its chain
   * stops here for this round) and the rows of the batch's other chains go on. Returns what
   * was not taken, if anything.
   */
  async #deliver(rows: readonly AuditRow[], signal: AbortSignal): Promise<Refusal | undefined> {
    const s = this.#sink;
    const c = this.#d.config.stream;
    let rest = rows;
    let size = rows.length;
    let refusal: Refusal | undefined;
    while (rest.length > 0 && !signal.aborted) {
      const part = rest.slice(0, size);
      const tried: Refusal = { rows: part.length, failed: 0, last: undefined, stuck: [], outage: false };
      const record = (a: DeliveryAttempt): void => {
        tried.last = a;
        if (a.error) tried.failed++;
      };
      if (await postWithRetries(url(s), batchRequest(s, part, GATELOG_VERSION), { policy: c, record, signal, cancel: signal, random: this.#d.random ?? Math.random })) {
        await saveSinkCursors(this.#d.store, s.name, headsOf(part));
        this.#d.hooks?.forwarded?.(s.name, part.length);
        rest = rest.slice(part.length);
        continue;
      }
      if (signal.aborted) return undefined;
      const tooLarge = tried.last?.http_status === 413;
      if (tooLarge && part.length > 1) {
        size = Math.ceil(part.length / 2);
        continue;
      }
      // Never skipped: a single row refused as too large holds its chain up (retried); the others go on.
      const stuck = tooLarge && part[0] ? [part[0].chain_id] : [];
      refusal = { rows: (refusal?.rows ?? 0) + tried.rows, failed: (refusal?.failed ?? 0) + tried.failed, last: tried.last, stuck: [...refusal?.stuck ?? [], ...stuck], outage: !tooLarge };
      if (!tooLarge) return refusal;
      rest = rest.filter((r) => !stuck.includes(r.chain_id));
    }
    return refusal;
  }

  async #failing(r: Refusal): Promise<void> {
    const s = this.#sink;
    const now = this.#now();
    const before = this.#outcome ?? NOT_FAILING;
    const since = before.failures > 0 ? before.failing_since : new Date(now).toISOString();
    const error = r.last?.error ?? '';
    const httpStatus = r.last?.http_status ?? 0;
    const reason = failureReason(error, httpStatus);
    this.#outcome = { failures: before.failures + r.failed, failing_since: since, http_status: httpStatus, error, reason, error_at: new Date(now).toISOString() };
    this.#d.hooks?.failed?.(s.name, r.rows);
    this.#d.hooks?.failing?.(s.name, true);
    this.#d.logger.error({
      sink: s.name, kind: s.kind, target: target(s), error, http_status: httpStatus, reason, rows: r.rows,
      failing_for_s: Math.round((now - Date.parse(since)) / 1000), code: 'GATELOG_ERR_AUDIT_SINK',
    }, 'audit sink failing: its rows are kept and retried from the cursor');
    await saveSinkOutcome(this.#d.store, s.name, this.#outcome);
  }

  /** After a round with every row taken: a failing sink is well again (said once, stored for every process). */
  async #recovered(): Promise<void> {
    const o = this.#outcome;
    if (!o || o.failures === 0) return;
    const s = this.#sink;
    this.#d.logger.info({ sink: s.name, kind: s.kind, target: target(s), failing_for_s: Math.round((this.#now() - Date.parse(o.failing_since)) / 1000) }, 'audit sink recovered: forwarding resumed from its cursor');
    this.#d.hooks?.failing?.(s.name, false);
    // The last error stays on record (shown with its time); failures 0 says it is over.
    this.#outcome = { ...o, failures: 0 };
    await saveSinkOutcome(this.#d.store, s.name, this.#outcome);
  }
}

/** Starts one loop per sink; null when no sink is configured. */
export function startAuditStream(d: AuditStreamDeps): AuditStream | null {
  if (d.config.sinks.length === 0) return null;
  const ac = new AbortController();
  const loops = d.config.sinks.map((s) => new SinkForwarder(s, d).run(ac.signal));
  const stop = async (): Promise<void> => {
    ac.abort();
    await Promise.allSettled(loops);
  };
  return { stop };
}
