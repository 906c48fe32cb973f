// Audit rows as OpenTelemetry logs (ExportLogsServiceRequest of opentelemetry-proto
// collector/logs/v1), one LogRecord per row: its time the row's `at`, its body a short summary,
// every audit field an attribute `gatelog.audit.<field>` (seq an int, the rest strings exactly
// as stored). OTLP/JSON follows the protobuf JSON mapping (int64 as decimal strings); protobuf
// is written by the small encoder below (field numbers from the spec's .proto files), so core
// needs no protobuf dependency for one fixed message.
import type { AuditRow } from '../store/audit.ts';

/** An audit row as sinks receive it: `idempotency_id` is `<chain_id>:<seq>`. */
export type StreamedRow = AuditRow & { idempotency_id: string };

type AttrValue = { s: string } | { i: number };
interface Attr { key: string; value: AttrValue }

const SEVERITY_INFO = 9;
const SCOPE = 'gatelog.audit';

function attributes(r: StreamedRow): Attr[] {
  return Object.entries(r).map(([k, v]) => ({ key: `gatelog.audit.${k}`, value: typeof v === 'number' ? { i: v } : { s: String(v) } }));
}

/** A short human line for log viewers (the fields carry the substance). */
export const summary = (r: AuditRow): string => `${r.action} by ${r.actor}${r.target ? ` on ${r.target_type || 'target'} ${r.target}` : ''}`;
const nanos = (iso: string): bigint => BigInt(Date.parse(iso)) * 1_000_000n;

const jsonValue = (v: AttrValue): object => ('s' in v ? { stringValue: v.s } : { intValue: String(v.i) });
const jsonAttrs = (as: Attr[]): object[] => as.map((a) => ({ key: a.key, value: jsonValue(a.value) }));

export function otlpLogsJson(rows: StreamedRow[], serviceName: string, version: string): string {
  return JSON.stringify({
    resourceLogs: [{
      resource: { attributes: jsonAttrs([{ key: 'service.name', value: { s: serviceName } }]) },
      scopeLogs: [{
        scope: { name: SCOPE, version },
        logRecords: rows.map((r) => ({
          timeUnixNano: String(nanos(r.at)),
          observedTimeUnixNano: String(nanos(r.at)),
          severityNumber: SEVERITY_INFO,
          severityText: 'INFO',
          eventName: `${SCOPE}.${r.action}`,
          body: { stringValue: summary(r) },
          attributes: jsonAttrs(attributes(r)),
        })),
      }],
    }],
  });
}

/** Protobuf wire format, just what these messages need: varints, fixed64 and length-delimited fields. */
class Pb {
  readonly #parts: Buffer[] = [];

  #varint(n: bigint): void {
    const out: number[] = [];
    let v = BigInt.asUintN(64, n);
    while (v >= 0x80n) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
    this.#parts.push(Buffer.from(out));
  }

  #tag(field: number, wire: number): void {
    this.#varint(BigInt((field << 3) | wire));
  }

  uint(field: number, n: number | bigint): this {
    this.#tag(field, 0);
    this.#varint(BigInt(n));
    return this;
  }

  fixed64(field: number, n: bigint): this {
    this.#tag(field, 1);
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(n);
    this.#parts.push(b);
    return this;
  }

  bytes(field: number, b: Uint8Array): this {
    this.#tag(field, 2);
    this.#varint(BigInt(b.length));
    this.#parts.push(Buffer.from(b));
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, Buffer.from(s, 'utf8'));
  }

  message(field: number, m: Pb): this {
    return this.bytes(field, m.finish());
  }

  finish(): Buffer {
    return Buffer.concat(this.#parts);
  }
}

// AnyValue: string_value = 1, int_value = 3. KeyValue: key = 1, value = 2.
const pbValue = (v: AttrValue): Pb => ('s' in v ? new Pb().string(1, v.s) : new Pb().uint(3, v.i));
const pbAttr = (a: Attr): Pb => new Pb().string(1, a.key).message(2, pbValue(a.value));

function pbRecord(r: StreamedRow): Pb {
  // LogRecord: time_unix_nano = 1, severity_number = 2, severity_text = 3, body = 5,
  // attributes = 6, observed_time_unix_nano = 11, event_name = 12.
  const m = new Pb().fixed64(1, nanos(r.at)).uint(2, SEVERITY_INFO).string(3, 'INFO').message(5, new Pb().string(1, summary(r)));
  for (const a of attributes(r)) m.message(6, pbAttr(a));
  return m.fixed64(11, nanos(r.at)).string(12, `${SCOPE}.${r.action}`);
}

export function otlpLogsProtobuf(rows: StreamedRow[], serviceName: string, version: string): Uint8Array<ArrayBuffer> {
  // ScopeLogs: scope = 1, log_records = 2. InstrumentationScope: name = 1, version = 2.
  const scopeLogs = new Pb().message(1, new Pb().string(1, SCOPE).string(2, version));
  for (const r of rows) scopeLogs.message(2, pbRecord(r));
  // ResourceLogs: resource = 1 (Resource: attributes = 1), scope_logs = 2. Request: resource_logs = 1.
  const resource = new Pb().message(1, pbAttr({ key: 'service.name', value: { s: serviceName } }));
  const resourceLogs = new Pb().message(1, resource).message(2, scopeLogs);
  return new Uint8Array(new Pb().message(1, resourceLogs).finish());
}
