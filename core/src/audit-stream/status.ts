// Whether each audit sink has everything, as GET /admin/audit/sinks and the UI's audit page show
// it: per chain the sink's cursor against the chain's head, and the sink's last delivery outcome
// as the forwarder stored it (migration 0033), so any process answers the same. A sink's address
// is shown as scheme, host and path only: its query string, user info, headers and secret never
// leave the config (they often carry the SIEM's token), and an error is a code and a fixed
// sentence, never a response body or a row.
import type { Store } from '../store/client.ts';
import { chainProgress, sinkCursorRows, sinkOutcome, type ChainProgress, type CursorRow, type SinkOutcome } from '../store/audit-stream-queries.ts';
import type { AuditConfig, AuditSink, AuditStreamConfig } from './config.ts';
import type { SinkLease } from './lease.ts';

export const SINK_STATES = ['ok', 'behind', 'failing'] as const;
export type SinkState = (typeof SINK_STATES)[number];

export interface ChainStatus {
  chain_id: string;
  /** Highest seq the sink took (0: none yet). */
  delivered_seq: number;
  head_seq: number;
  rows_behind: number;
  /** Age of the oldest row the sink has not taken, seconds; null when caught up. */
  oldest_undelivered_age_s: number | null;
  last_delivered_at: string | null;
}

export interface SinkStatus {
  object: 'audit_sink';
  name: string;
  kind: AuditSink['kind'];
  /** Webhook body format, or the OTLP protocol. */
  format: string;
  /** Scheme, host and path of the sink's URL. */
  destination: string;
  status: SinkState;
  rows_behind: number;
  /** Age of the oldest row not taken, seconds (0: caught up): the lag metric's value. */
  lag_s: number;
  last_delivered_at: string | null;
  failing_since: string | null;
  /** Failed delivery attempts since the sink last took a batch. */
  consecutive_failures: number;
  /** The most recent failure, kept after a recovery (with its time). */
  last_error: { http_status: number; code: string; reason: string; at: string } | null;
  /** Which process forwards the sink (several gatelogs on one store); null with one process. */
  lease: { store: SinkLease['where']; holder: string | null } | null;
  chains: ChainStatus[];
}

/** The outcome before any failure. */
export const NOT_FAILING: SinkOutcome = { failures: 0, failing_since: new Date(0).toISOString(), http_status: 0, error: '', reason: '', error_at: new Date(0).toISOString() };

/**
 * A path segment that may be a credential: some collectors take their token in the path (Sumo
 * Logic's HTTP source `/receiver/v1/http/<token>`, Slack-style webhooks). 20 characters or more
 * mixing upper case, lower case and digits, or 32 or more in base64's or hex's alphabet: shown
 * as `…`. Route names (`collector`, `v2`, `audit-events-2026`) stay.
 */
const TOKEN_LIKE = /^(?=.{20,})(?=.*[a-z])(?=.*[A-Z])(?=.*\d)[A-Za-z0-9._~%+=-]+$|^[A-Za-z0-9+/=_-]{32,}$/;

/** Scheme, host (with port) and path: no user info, query string, fragment or token-like segment. */
export function destination(url: string): string {
  try {
    const u = new URL(url);
    const path = u.pathname.split('/').map((seg) => (TOKEN_LIKE.test(seg) ? '…' : seg)).join('/');
    return `${u.protocol}//${u.host}${path}`;
  } catch {
    return '';
  }
}

const NETWORK_REASONS: Readonly<Record<string, string>> = {
  timeout: 'no answer within timeout_ms',
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  UND_ERR_SOCKET: 'connection closed',
  network_error: 'network error',
};

/** A short sentence for a delivery error code (http-delivery.ts): no URL, header or body. */
export function failureReason(code: string, httpStatus: number): string {
  if (httpStatus === 413) return 'the sink refused a single audit row as too large (HTTP 413); it is retried, never skipped';
  if (httpStatus === 401 || httpStatus === 403) return `the sink refused gatelog's credentials (HTTP ${httpStatus})`;
  if (httpStatus === 429) return 'the sink is rate limiting (HTTP 429)';
  if (httpStatus >= 500) return `the sink failed (HTTP ${httpStatus})`;
  if (httpStatus > 0) return `the sink refused the batch (HTTP ${httpStatus})`;
  return NETWORK_REASONS[code] ?? `network error (${code || 'unknown'})`;
}

/** Rows waiting longer than this make a sink `behind` (younger ones are on their way). */
export const behindAfterMs = (c: Pick<AuditStreamConfig, 'poll_ms'>): number => Math.max(10_000, 3 * c.poll_ms);

export interface SinkFacts {
  cursors: readonly CursorRow[];
  chains: readonly ChainProgress[];
  outcome: SinkOutcome | undefined;
  lease: SinkStatus['lease'];
}

/** One sink's status from what the store and the lease say. Pure: `now` is passed in. */
export function sinkStatus(sink: AuditSink, stream: Pick<AuditStreamConfig, 'poll_ms'>, f: SinkFacts, now: number): SinkStatus {
  const delivered = new Map(f.cursors.map((c) => [c.chain_id, c]));
  const chains = f.chains.map((p): ChainStatus => ({
    chain_id: p.chain_id,
    delivered_seq: delivered.get(p.chain_id)?.seq ?? 0,
    head_seq: p.head_seq,
    rows_behind: p.behind,
    oldest_undelivered_age_s: p.behind > 0 ? Math.max(0, now - p.oldest_ms) / 1000 : null,
    last_delivered_at: delivered.get(p.chain_id)?.delivered_at ?? null,
  }));
  const lagS = Math.max(0, ...chains.map((c) => c.oldest_undelivered_age_s ?? 0));
  const o = f.outcome ?? NOT_FAILING;
  const failing = o.failures > 0;
  const lastDelivered = f.cursors.reduce<string | null>((m, c) => (m === null || c.delivered_at > m ? c.delivered_at : m), null);
  return {
    object: 'audit_sink',
    name: sink.name,
    kind: sink.kind,
    format: sink.kind === 'otlp' ? sink.protocol : sink.format,
    destination: destination(sink.kind === 'otlp' ? sink.endpoint : sink.url),
    status: failing ? 'failing' : lagS * 1000 > behindAfterMs(stream) ? 'behind' : 'ok',
    rows_behind: chains.reduce((n, c) => n + c.rows_behind, 0),
    lag_s: lagS,
    last_delivered_at: lastDelivered,
    failing_since: failing ? o.failing_since : null,
    consecutive_failures: o.failures,
    last_error: o.error || o.http_status ? { http_status: o.http_status, code: o.error, reason: o.reason, at: o.error_at } : null,
    lease: f.lease,
    chains,
  };
}

/** Every configured sink's status, read from the store (and the lease, when several gatelogs share the sinks). */
export async function readSinkStatuses(store: Store, config: AuditConfig, lease: SinkLease | undefined, now: () => number = Date.now): Promise<SinkStatus[]> {
  return Promise.all(config.sinks.map(async (sink) => {
    const cursors = await sinkCursorRows(store, sink.name);
    const [chains, outcome, holder] = await Promise.all([
      chainProgress(store, new Map(cursors.map((c) => [c.chain_id, c.seq]))),
      sinkOutcome(store, sink.name),
      // An unreachable lease leaves the holder unknown; the rest of the status still answers.
      lease ? lease.holder(sink.name, config.stream.lease_ms).catch(() => null) : Promise.resolve(null),
    ]);
    return sinkStatus(sink, config.stream, { cursors, chains, outcome, lease: lease ? { store: lease.where, holder } : null }, now());
  }));
}
