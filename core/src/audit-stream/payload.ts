// What an audit sink receives: pure encoders from audit rows to one request body. Every row
// goes out whole — chain_id, seq, prev_hash, row_hash and the hashed fields exactly as stored
// (`details` is the stored JSON text, byte for byte), so the copy can be verified against the
// chain with `gatelog audit verify`'s rules — plus `idempotency_id` (`<chain_id>:<seq>`), the
// same on every redelivery, for the receiver's deduplication.
import type { AuditRow } from '../store/audit.ts';
import { signBody, SIGNATURE_HEADER } from '../alerts/deliver.ts';
import type { PostRequest } from '../http-delivery.ts';
import type { AuditSink } from './config.ts';
import { otlpLogsJson, otlpLogsProtobuf, summary, type StreamedRow } from './otlp-logs.ts';

export type { StreamedRow };

export const idempotencyId = (r: Pick<AuditRow, 'chain_id' | 'seq'>): string => `${r.chain_id}:${r.seq}`;

export const streamed = (r: AuditRow): StreamedRow => ({ ...r, idempotency_id: idempotencyId(r) });

type WebhookFormat = Extract<AuditSink, { kind: 'webhook' }>['format'];

const gatelogBatch = (rows: StreamedRow[]): string => JSON.stringify({ type: 'gatelog.audit', version: 1, rows });
// HEC takes several events in one request as concatenated JSON objects.
const hecEvents = (rows: StreamedRow[]): string => rows.map((r) => JSON.stringify({ time: Date.parse(r.at) / 1000, source: 'gatelog', sourcetype: 'gatelog:audit', event: r })).join('\n');
const datadogLogs = (rows: StreamedRow[]): string => JSON.stringify(rows.map((r) => ({ ddsource: 'gatelog', service: 'gatelog', message: summary(r), ...r })));

/** One body per webhook format: gatelog's own batch, Splunk HEC's event stream, Datadog's log array. */
const WEBHOOK_BODIES: Record<WebhookFormat, (rows: StreamedRow[]) => string> = { json: gatelogBatch, splunk_hec: hecEvents, datadog: datadogLogs };

/** The request for one batch, signed (when the sink has a secret) at `unixS`. */
export type BatchRequest = (unixS: number) => PostRequest;

export function batchRequest(sink: AuditSink, rows: AuditRow[], version: string): BatchRequest {
  const out = rows.map(streamed);
  const headers: Record<string, string> = { ...sink.headers, 'user-agent': `gatelog-audit/${version}` };
  if (sink.kind === 'otlp') {
    const json = sink.protocol === 'http/json';
    const body = json ? otlpLogsJson(out, sink.service_name, version) : otlpLogsProtobuf(out, sink.service_name, version);
    const h = { ...headers, 'content-type': json ? 'application/json' : 'application/x-protobuf' };
    return () => ({ body, headers: h });
  }
  const body = WEBHOOK_BODIES[sink.format](out);
  const h = { 'content-type': 'application/json', ...headers, 'x-gatelog-event': 'audit.rows' };
  const secret = sink.secret;
  if (!secret) return () => ({ body, headers: h });
  return (unixS) => ({ body, headers: { ...h, [SIGNATURE_HEADER]: signBody(secret, body, unixS) } });
}
