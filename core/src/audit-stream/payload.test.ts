// What a sink receives for a batch, per sink kind and format: every row whole with its chain
// fields (so the copy passes `audit verify`'s checks), its idempotency id, the HMAC signature
// alert webhooks use, the configured headers; OTLP logs in JSON and protobuf (decoded here with
// protobufjs and the OTLP .proto definitions).
import { describe, expect, it } from 'vitest';
import { AuditVerifier } from '../store/audit-verify.ts';
import { auditHash, GENESIS_HASH, type AuditRow } from '../store/audit.ts';
import { SIGNATURE_HEADER } from '../alerts/deliver.ts';
import { AuditSink } from './config.ts';
import { batchRequest, type StreamedRow } from './payload.ts';
import { verifySignature } from '../../../test/support/webhook-receiver.ts';
import { decodeLogsProtobuf } from '../../../test/support/otlp-receiver.ts';

function chain(n: number): AuditRow[] {
  const rows: AuditRow[] = [];
  let prev = GENESIS_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const base = {
      id: `00000000-0000-4000-8000-00000000000${seq}`, at: `2026-12-05T06:00:0${seq}.123Z`, chain_id: 'c0ffee00-0000-4000-8000-000000000000', seq, prev_hash: prev,
      actor: 'ana@example.com', role: 'admin', action: seq === 1 ? 'audit.chain.open' : 'key.create', target_type: 'key', target: `k${seq}`,
      details: '{"name":"ünïcode \\"quoted\\""}', source_ip: '10.0.0.1', user_agent: 'test',
    };
    const r: AuditRow = { ...base, row_hash: auditHash(base) };
    rows.push(r);
    prev = r.row_hash;
  }
  return rows;
}

const strip = ({ idempotency_id: _i, ...r }: StreamedRow): AuditRow => r;

function verifies(rows: AuditRow[]): boolean {
  const v = new AuditVerifier({ full: true });
  v.feed(rows);
  return v.result().ok;
}

const SECRET = 'a-signing-secret-of-some-length';

describe('audit sink payloads', () => {
  const rows = chain(3);

  it('webhook json: the rows whole with idempotency ids, signed like alert webhooks, with the sink headers', () => {
    const sink = AuditSink.parse({ kind: 'webhook', name: 'siem', url: 'https://siem.example/in', secret: SECRET, headers: { authorization: 'Bearer t' } });
    const { body, headers } = batchRequest(sink, rows, '1.2.3')(1_765_000_000);
    const text = body as string;
    const parsed = JSON.parse(text) as { type: string; rows: StreamedRow[] };
    expect(parsed.type).toBe('gatelog.audit');
    expect(parsed.rows.map((r) => r.idempotency_id)).toEqual(rows.map((r) => `${r.chain_id}:${r.seq}`));
    expect(verifies(parsed.rows.map(strip))).toBe(true);
    expect(verifySignature(SECRET, headers[SIGNATURE_HEADER], text, 1_765_000_000)).toBe(true);
    expect(headers).toMatchObject({ authorization: 'Bearer t', 'content-type': 'application/json', 'user-agent': 'gatelog-audit/1.2.3' });
  });

  it('webhook without a secret sends no signature', () => {
    const sink = AuditSink.parse({ kind: 'webhook', name: 'siem', url: 'https://siem.example/in' });
    expect(batchRequest(sink, rows, '1')(0).headers[SIGNATURE_HEADER]).toBeUndefined();
  });

  it('splunk_hec: one HEC event per row, time in epoch seconds', () => {
    const sink = AuditSink.parse({ kind: 'webhook', name: 'hec', url: 'https://splunk.example:8088/services/collector/event', format: 'splunk_hec' });
    const lines = (batchRequest(sink, rows, '1')(0).body as string).split('\n').map((l) => JSON.parse(l) as { time: number; sourcetype: string; event: StreamedRow });
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatchObject({ time: 1_796_450_401.123, sourcetype: 'gatelog:audit' });
    expect(verifies(lines.map((l) => strip(l.event)))).toBe(true);
  });

  it('datadog: an array of log entries with a message and the row fields', () => {
    const sink = AuditSink.parse({ kind: 'webhook', name: 'dd', url: 'https://http-intake.logs.datadoghq.com/api/v2/logs', format: 'datadog' });
    const entries = JSON.parse(batchRequest(sink, rows, '1')(0).body as string) as (StreamedRow & { ddsource: string; message: string })[];
    expect(entries[1]).toMatchObject({ ddsource: 'gatelog', message: 'key.create by ana@example.com on key k2', seq: 2 });
    expect(verifies(entries.map(({ ddsource: _d, service: _s, message: _m, ...r }: StreamedRow & Record<string, unknown>) => strip(r)))).toBe(true);
  });

  it.each(['http/protobuf', 'http/json'] as const)('otlp %s: one LogRecord per row, every field an attribute', (protocol) => {
    const sink = AuditSink.parse({ kind: 'otlp', name: 'otel', endpoint: 'http://collector:4318/v1/logs', protocol, headers: { 'x-key': 'k' } });
    const req = batchRequest(sink, rows, '1.2.3')(0);
    expect(req.headers['content-type']).toBe(protocol === 'http/json' ? 'application/json' : 'application/x-protobuf');
    expect(req.headers['x-key']).toBe('k');
    if (protocol === 'http/json') {
      const j = JSON.parse(req.body as string) as { resourceLogs: { scopeLogs: { logRecords: { timeUnixNano: string; attributes: { key: string; value: { intValue?: string } }[] }[] }[] }[] };
      const recs = j.resourceLogs[0]!.scopeLogs[0]!.logRecords;
      expect(recs).toHaveLength(3);
      expect(recs[0]!.timeUnixNano).toBe('1796450401123000000');
      expect(recs[1]!.attributes.find((a) => a.key === 'gatelog.audit.seq')?.value.intValue).toBe('2');
      return;
    }
    const logs = decodeLogsProtobuf(req.body as Uint8Array);
    expect(logs).toHaveLength(3);
    expect(logs[0]).toMatchObject({ timeMs: 1_796_450_401_123, severityNumber: 9, eventName: 'gatelog.audit.audit.chain.open', scope: 'gatelog.audit', resource: { 'service.name': 'gatelog' } });
    const back = logs.map((l) => Object.fromEntries(Object.entries(l.attributes).map(([k, v]) => [k.replace('gatelog.audit.', ''), v])) as StreamedRow);
    expect(back.map((r) => r.idempotency_id)).toEqual(rows.map((r) => `${r.chain_id}:${r.seq}`));
    expect(verifies(back.map(strip))).toBe(true);
  });
});

describe('audit sink config', () => {
  it.each([
    [{ kind: 'webhook', name: 's', url: 'ftp://x/' }, 'url'],
    [{ kind: 'webhook', name: 's', url: 'https://x/', token: 'x' }, 'token'],
    [{ kind: 'webhook', name: 's', url: 'https://x/', secret: 'short' }, 'secret'],
    [{ kind: 'otlp', name: 's', endpoint: 'file:///tmp/x' }, 'endpoint'],
    [{ kind: 'kafka', name: 's' }, 'kind'],
    [{ kind: 'webhook', name: 'a b', url: 'https://x/' }, 'name'],
  ])('refuses %j (%s)', (sink, field) => {
    const r = AuditSink.safeParse(sink);
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toContain(field);
  });
});
