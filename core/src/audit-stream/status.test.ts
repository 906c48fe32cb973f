// A sink's status from its cursors, its chains' progress and its stored outcome: ok, behind or
// failing; its address without user info, query or fragment; error reasons without secrets.
import { describe, expect, it } from 'vitest';
import { AuditSink } from './config.ts';
import { destination, failureReason, NOT_FAILING, sinkStatus, type SinkFacts } from './status.ts';

const NOW = Date.parse('2026-12-05T10:00:00.000Z');
const sink = AuditSink.parse({
  kind: 'webhook', name: 'splunk', format: 'splunk_hec',
  url: 'https://ops:pa55@splunk.example.com:8088/services/collector/event?token=hec-secret#frag',
  headers: { authorization: 'Splunk hec-secret' }, secret: 'signing-secret-0123456789',
});
const stream = { poll_ms: 1000 };
const facts = (over: Partial<SinkFacts> = {}): SinkFacts => ({
  cursors: [{ chain_id: 'a', seq: 10, delivered_at: '2026-12-05T09:59:58.000Z' }, { chain_id: 'b', seq: 3, delivered_at: '2026-12-05T09:00:00.000Z' }],
  chains: [{ chain_id: 'a', head_seq: 10, behind: 0, oldest_ms: 0 }, { chain_id: 'b', head_seq: 3, behind: 0, oldest_ms: 0 }],
  outcome: undefined,
  lease: null,
  ...over,
});

describe('sinkStatus', () => {
  it('caught up: ok, nothing behind, last delivery the newest cursor move', () => {
    const s = sinkStatus(sink, stream, facts(), NOW);
    expect(s).toMatchObject({ name: 'splunk', kind: 'webhook', format: 'splunk_hec', status: 'ok', rows_behind: 0, lag_s: 0, last_delivered_at: '2026-12-05T09:59:58.000Z', failing_since: null, consecutive_failures: 0, last_error: null });
    expect(s.chains[1]).toEqual({ chain_id: 'b', delivered_seq: 3, head_seq: 3, rows_behind: 0, oldest_undelivered_age_s: null, last_delivered_at: '2026-12-05T09:00:00.000Z' });
  });

  it('rows waiting a moment are on their way (ok); waiting longer is behind', () => {
    const chains = (ageMs: number): SinkFacts['chains'] => [{ chain_id: 'a', head_seq: 12, behind: 2, oldest_ms: NOW - ageMs }, { chain_id: 'c', head_seq: 1, behind: 1, oldest_ms: NOW - 500 }];
    const fresh = sinkStatus(sink, stream, facts({ chains: chains(2000) }), NOW);
    expect(fresh).toMatchObject({ status: 'ok', rows_behind: 3, lag_s: 2 });
    expect(fresh.chains[1]).toMatchObject({ chain_id: 'c', delivered_seq: 0, rows_behind: 1, oldest_undelivered_age_s: 0.5, last_delivered_at: null });
    expect(sinkStatus(sink, stream, facts({ chains: chains(60_000) }), NOW)).toMatchObject({ status: 'behind', lag_s: 60 });
  });

  it('a stored failure: failing since, failures, the last error; after recovery the error stays, dated', () => {
    const outcome = { failures: 7, failing_since: '2026-12-05T09:50:00.000Z', http_status: 503, error: 'http_503', reason: failureReason('http_503', 503), error_at: '2026-12-05T09:59:00.000Z' };
    expect(sinkStatus(sink, stream, facts({ outcome }), NOW)).toMatchObject({
      status: 'failing', failing_since: '2026-12-05T09:50:00.000Z', consecutive_failures: 7,
      last_error: { http_status: 503, code: 'http_503', reason: 'the sink failed (HTTP 503)', at: '2026-12-05T09:59:00.000Z' },
    });
    expect(sinkStatus(sink, stream, facts({ outcome: { ...outcome, failures: 0 } }), NOW)).toMatchObject({ status: 'ok', failing_since: null, consecutive_failures: 0, last_error: { code: 'http_503' } });
    expect(sinkStatus(sink, stream, facts({ outcome: NOT_FAILING }), NOW).last_error).toBeNull();
  });

  it('shows the address as scheme, host and path: no user info, token, header or secret', () => {
    const s = sinkStatus(sink, stream, facts({ lease: { store: 'redis', holder: 'gl-2:41:ab12cd34' } }), NOW);
    expect(s.destination).toBe('https://splunk.example.com:8088/services/collector/event');
    expect(s.lease).toEqual({ store: 'redis', holder: 'gl-2:41:ab12cd34' });
    const json = JSON.stringify(s);
    for (const secret of ['pa55', 'ops', 'hec-secret', 'signing-secret', 'frag']) expect(json).not.toContain(secret);
    expect(destination('not a url')).toBe('');
    const otlp = AuditSink.parse({ kind: 'otlp', name: 'otel', endpoint: 'http://collector:4318/v1/logs?key=k' });
    expect(sinkStatus(otlp, stream, facts(), NOW)).toMatchObject({ format: 'http/protobuf', destination: 'http://collector:4318/v1/logs' });
  });

  it('leaves a token out of the path too (collectors that take it there), keeping route names', () => {
    const sumo = 'ZaVnC4dhaV2ZRSWu6DWxmQ8wXtRRn3Mq2DhOoJKVX-KuwEj9cT0UKQ2VsNIoSqqeqa9ycr0Kr1rkO-FqtJUJ2vnHL8QFCJ0A==';
    expect(destination(`https://endpoint4.collection.us2.sumologic.com/receiver/v1/http/${sumo}`)).toBe('https://endpoint4.collection.us2.sumologic.com/receiver/v1/http/…');
    expect(destination('https://hooks.example.com/services/T0ABCD1EF/B0GHIJ2KL/q8ZrFv7XyLm2Pn4Qs6Tu9Wb1')).toBe('https://hooks.example.com/services/T0ABCD1EF/B0GHIJ2KL/…');
    for (const kept of ['https://http-intake.logs.datadoghq.eu/api/v2/logs', 'https://splunk.example.com:8088/services/collector/event', 'http://collector:4318/v1/logs', 'https://siem.example.com/ingest/audit-events-2026']) {
      expect(destination(kept)).toBe(kept);
    }
  });
});

describe('failureReason', () => {
  it.each([
    ['http_413', 413, 'the sink refused a single audit row as too large (HTTP 413); it is retried, never skipped'],
    ['http_401', 401, 'the sink refused gatelog\'s credentials (HTTP 401)'],
    ['http_429', 429, 'the sink is rate limiting (HTTP 429)'],
    ['http_502', 502, 'the sink failed (HTTP 502)'],
    ['http_400', 400, 'the sink refused the batch (HTTP 400)'],
    ['timeout', 0, 'no answer within timeout_ms'],
    ['ECONNREFUSED', 0, 'connection refused'],
    ['EPROTO', 0, 'network error (EPROTO)'],
  ])('%s (%i)', (code, status, reason) => {
    expect(failureReason(code, status)).toBe(reason);
  });
});
