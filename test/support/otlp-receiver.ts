// A local OTLP/HTTP receiver for tests (node:http on loopback): accepts `POST /v1/traces` and
// `POST /v1/logs` as protobuf (decoded with protobufjs and the OTLP message definitions below)
// or JSON, and keeps every span and log record it got, flattened: hex ids, attributes as plain
// values, times in epoch milliseconds. `fail` makes it answer every export with that status.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import protobuf from 'protobufjs';

// opentelemetry-proto: opentelemetry/proto/collector/trace/v1/trace_service.proto and the
// trace, resource and common messages it uses (field numbers as in the spec's .proto files).
const OTLP_PROTO = `
syntax = "proto3";
package otlp;
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }
message InstrumentationScope { string name = 1; string version = 2; repeated KeyValue attributes = 3; uint32 dropped_attributes_count = 4; }
message Span {
  bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4; fixed32 flags = 16;
  string name = 5; int32 kind = 6; fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9; uint32 dropped_attributes_count = 10; Status status = 15;
}
message Status { string message = 2; int32 code = 3; }
message KeyValue { string key = 1; AnyValue value = 2; }
message AnyValue {
  oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4; ArrayValue array_value = 5; bytes bytes_value = 7; }
}
message ArrayValue { repeated AnyValue values = 1; }
message ExportLogsServiceRequest { repeated ResourceLogs resource_logs = 1; }
message ResourceLogs { Resource resource = 1; repeated ScopeLogs scope_logs = 2; string schema_url = 3; }
message ScopeLogs { InstrumentationScope scope = 1; repeated LogRecord log_records = 2; string schema_url = 3; }
message LogRecord {
  fixed64 time_unix_nano = 1; fixed64 observed_time_unix_nano = 11; int32 severity_number = 2; string severity_text = 3;
  AnyValue body = 5; repeated KeyValue attributes = 6; uint32 dropped_attributes_count = 7; fixed32 flags = 8;
  bytes trace_id = 9; bytes span_id = 10; string event_name = 12;
}
`;
const root = protobuf.parse(OTLP_PROTO, { keepCase: false }).root;
const Request = root.lookupType('otlp.ExportTraceServiceRequest');
const LogsRequest = root.lookupType('otlp.ExportLogsServiceRequest');

export type AttrValue = string | number | boolean | AttrValue[];

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  traceState: string;
  name: string;
  /** OTLP SpanKind: 2 server, 3 client. */
  kind: number;
  startMs: number;
  endMs: number;
  attributes: Record<string, AttrValue>;
  status: { code: number; message: string };
  resource: Record<string, AttrValue>;
  /** How the batch it came in was encoded. */
  encoding: 'protobuf' | 'json';
}

export interface ReceivedLog {
  timeMs: number;
  severityNumber: number;
  eventName: string;
  body: AttrValue;
  attributes: Record<string, AttrValue>;
  resource: Record<string, AttrValue>;
  scope: string;
  encoding: 'protobuf' | 'json';
}

export interface OtlpReceiver {
  /** The traces URL (`/v1/traces`). */
  url: string;
  /** The logs URL (`/v1/logs`). */
  logsUrl: string;
  spans: ReceivedSpan[];
  logs: ReceivedLog[];
  /** Status every export is answered with; 0 (default) accepts. */
  fail: number;
  /** Export requests received, by content type. */
  requests: { contentType: string; bytes: number; headers: Record<string, string | string[] | undefined> }[];
  /** Wait until `pred` holds over the spans received (bounded). */
  waitFor(pred: (spans: ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

interface AnyValueObj {
  stringValue?: string; boolValue?: boolean; intValue?: string | number; doubleValue?: number;
  arrayValue?: { values?: AnyValueObj[] };
}
interface KeyValueObj { key: string; value?: AnyValueObj }

function value(v: AnyValueObj | undefined): AttrValue {
  if (!v) return '';
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(value);
  return '';
}

const attrs = (kvs: KeyValueObj[] | undefined): Record<string, AttrValue> => Object.fromEntries((kvs ?? []).map((kv) => [kv.key, value(kv.value)]));
const nanosToMs = (n: string | number | undefined): number => Number(BigInt(n ?? 0) / 1000n) / 1000;

interface SpanObj {
  traceId?: string; spanId?: string; parentSpanId?: string; traceState?: string; name?: string; kind?: number;
  startTimeUnixNano?: string | number; endTimeUnixNano?: string | number; attributes?: KeyValueObj[];
  status?: { code?: number; message?: string };
}
interface RequestObj {
  resourceSpans?: { resource?: { attributes?: KeyValueObj[] }; scopeSpans?: { spans?: SpanObj[] }[] }[];
}

function flatten(req: RequestObj, encoding: ReceivedSpan['encoding']): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of req.resourceSpans ?? []) {
    const resource = attrs(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          traceId: s.traceId ?? '', spanId: s.spanId ?? '', parentSpanId: s.parentSpanId ?? '', traceState: s.traceState ?? '',
          name: s.name ?? '', kind: s.kind ?? 0, startMs: nanosToMs(s.startTimeUnixNano), endMs: nanosToMs(s.endTimeUnixNano),
          attributes: attrs(s.attributes), status: { code: s.status?.code ?? 0, message: s.status?.message ?? '' }, resource, encoding,
        });
      }
    }
  }
  return out;
}

interface LogsObj {
  resourceLogs?: {
    resource?: { attributes?: KeyValueObj[] };
    scopeLogs?: { scope?: { name?: string }; logRecords?: { timeUnixNano?: string | number; severityNumber?: number; eventName?: string; body?: AnyValueObj; attributes?: KeyValueObj[] }[] }[];
  }[];
}

function flattenLogs(req: LogsObj, encoding: ReceivedLog['encoding']): ReceivedLog[] {
  const out: ReceivedLog[] = [];
  for (const rl of req.resourceLogs ?? []) {
    const resource = attrs(rl.resource?.attributes);
    for (const sl of rl.scopeLogs ?? []) {
      for (const l of sl.logRecords ?? []) {
        out.push({
          timeMs: nanosToMs(l.timeUnixNano), severityNumber: l.severityNumber ?? 0, eventName: l.eventName ?? '', body: value(l.body),
          attributes: attrs(l.attributes), resource, scope: sl.scope?.name ?? '', encoding,
        });
      }
    }
  }
  return out;
}

/** An OTLP/HTTP protobuf logs export body, flattened. */
export function decodeLogsProtobuf(body: Uint8Array): ReceivedLog[] {
  const obj = LogsRequest.toObject(LogsRequest.decode(body), { longs: String, bytes: String, defaults: false }) as LogsObj;
  return flattenLogs(obj, 'protobuf');
}

/** Protobuf ids are bytes: as hex, like OTLP/JSON writes them. */
function decodeProtobuf(body: Buffer): RequestObj {
  const msg = Request.decode(body);
  return Request.toObject(msg, { longs: String, bytes: String, defaults: false }) as RequestObj & Record<string, unknown>;
}

const b64hex = (s: string | undefined): string => (s ? Buffer.from(s, 'base64').toString('hex') : '');

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const logs: ReceivedLog[] = [];
  const requests: OtlpReceiver['requests'] = [];
  const state = { fail: 0 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const contentType = req.headers['content-type'] ?? '';
      requests.push({ contentType, bytes: body.length, headers: req.headers });
      if (req.method !== 'POST' || (req.url !== '/v1/traces' && req.url !== '/v1/logs')) {
        res.writeHead(404).end();
        return;
      }
      if (state.fail) {
        res.writeHead(state.fail).end();
        return;
      }
      try {
        if (req.url === '/v1/logs') {
          const protobufBody = contentType.startsWith('application/x-protobuf');
          if (!protobufBody && !contentType.startsWith('application/json')) {
            res.writeHead(415).end();
            return;
          }
          logs.push(...(protobufBody ? decodeLogsProtobuf(body) : flattenLogs(JSON.parse(body.toString('utf8')) as LogsObj, 'json')));
          res.writeHead(200, { 'content-type': contentType }).end(protobufBody ? undefined : '{}');
          return;
        }
        if (contentType.startsWith('application/x-protobuf')) {
          const obj = decodeProtobuf(body);
          const flat = flatten(obj, 'protobuf');
          // bytes came out base64 (bytes: String): ids to hex.
          for (const s of flat) {
            s.traceId = b64hex(s.traceId);
            s.spanId = b64hex(s.spanId);
            s.parentSpanId = b64hex(s.parentSpanId);
          }
          spans.push(...flat);
          res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
        } else if (contentType.startsWith('application/json')) {
          spans.push(...flatten(JSON.parse(body.toString('utf8')) as RequestObj, 'json'));
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        } else {
          res.writeHead(415).end();
        }
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    logsUrl: `http://127.0.0.1:${port}/v1/logs`,
    spans,
    logs,
    get fail() {
      return state.fail;
    },
    set fail(status: number) {
      state.fail = status;
    },
    requests,
    async waitFor(pred, timeoutMs = 15_000) {
      const t0 = Date.now();
      while (!pred(spans)) {
        if (Date.now() - t0 > timeoutMs) throw new Error(`OTLP receiver: condition not met after ${timeoutMs} ms; got ${spans.length} spans: ${JSON.stringify(spans.map((s) => [s.name, s.traceId, s.spanId]))}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return spans;
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
