// Audit streaming on the real engine (chDB) to a real HTTP receiver: rows arrive in seq order
// per chain, signed; a sink that fails for a while is retried (failing, logged without its
// secret or token) and then gets every row, none missing; a new forwarder (a restart) goes on
// from the durable cursor; stopping does not wait for a sink that hangs; with a shared store
// only the lease holder sends, and when it stops another takes the sink over from the cursor;
// a sink that refuses big bodies (413) gets the batch in halves, a single row it refuses keeps
// its chain waiting (never skipped) while other chains go on; the status (status.ts) follows.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditChain, type AuditRow } from '../store/audit.ts';
import { AuditVerifier } from '../store/audit-verify.ts';
import type { Store } from '../store/client.ts';
import { createLogger } from '../logger.ts';
import { SIGNATURE_HEADER } from '../alerts/deliver.ts';
import { AuditConfig } from './config.ts';
import { startAuditStream, type AuditStream, type AuditStreamHooks } from './forwarder.ts';
import { batchRequest, type StreamedRow } from './payload.ts';
import { readSinkStatuses, type SinkStatus } from './status.ts';
import { storeLease } from './lease.ts';
import { tempEmbeddedStore, type TempStore } from '../../../test/support/embedded-store.ts';
import { startWebhookReceiver, verifySignature, type Received, type WebhookReceiver } from '../../../test/support/webhook-receiver.ts';
import { startOtlpReceiver } from '../../../test/support/otlp-receiver.ts';

const SECRET = 'audit-stream-test-secret';
const TOKEN = 'hec-token-never-logged';
let temp: TempStore;
let store: Store;
let rx: WebhookReceiver;
const running: AuditStream[] = [];

beforeAll(async () => {
  temp = await tempEmbeddedStore('gatelog-audit-stream');
  store = temp.store;
  rx = await startWebhookReceiver();
});
afterAll(async () => {
  await Promise.all(running.map((s) => s.stop()));
  await rx.close();
  await temp.close();
});

function logs(): { lines: string[]; logger: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk: Buffer, _enc, done) { lines.push(chunk.toString()); done(); } });
  return { lines, logger: createLogger('info', sink) };
}

function config(name: string, stream: object = {}, batchRows = 3): AuditConfig {
  return AuditConfig.parse({
    sinks: [{ kind: 'webhook', name, url: `${rx.url}/${name}?token=${TOKEN}`, secret: SECRET, headers: { authorization: `Splunk ${TOKEN}` }, batch_rows: batchRows }],
    stream: { poll_ms: 50, attempts: 2, base_ms: 10, max_ms: 100, lease_ms: 1000, ...stream },
  });
}

interface Hooked { hooks: AuditStreamHooks; failing: boolean[]; forwarded: number }
function hooked(): Hooked {
  const h: Hooked = { failing: [], forwarded: 0, hooks: { forwarded: () => undefined, failed: () => undefined, lag: () => undefined, failing: () => undefined } };
  const forwarded = (_s: string, n: number): void => {
    h.forwarded += n;
  };
  const failing = (_s: string, f: boolean): void => {
    h.failing.push(f);
  };
  h.hooks = { ...h.hooks, forwarded, failing };
  return h;
}

function start(cfg: AuditConfig, opts: { shared?: boolean; logger?: ReturnType<typeof createLogger>; hooks?: AuditStreamHooks } = {}): AuditStream {
  const s = startAuditStream({ store, config: cfg, logger: opts.logger ?? logs().logger, shared: opts.shared ?? false, hooks: opts.hooks })!;
  running.push(s);
  return s;
}

/** Rows of `chain` the receiver got at `path`, in arrival order (signatures checked). */
function arrived(path: string, chain: string): StreamedRow[] {
  const out: StreamedRow[] = [];
  for (const r of rx.received.filter((x) => x.path.startsWith(`/${path}?`))) {
    expect(verifySignature(SECRET, r.headers[SIGNATURE_HEADER] as string, r.body, Math.floor(Date.now() / 1000))).toBe(true);
    expect(r.headers.authorization).toBe(`Splunk ${TOKEN}`);
    out.push(...(JSON.parse(r.body) as { rows: StreamedRow[] }).rows.filter((x) => x.chain_id === chain));
  }
  return out;
}

async function until(pred: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!(await pred())) {
    if (Date.now() - t0 > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The sink's status as the API shows it, and what it says about `chain`. */
async function statusOf(cfg: AuditConfig, chain?: string, lease = false): Promise<SinkStatus & { chain: SinkStatus['chains'][number] | undefined }> {
  const [s] = await readSinkStatuses(store, cfg, lease ? storeLease(store) : undefined);
  return { ...s!, chain: s!.chains.find((c) => c.chain_id === chain) };
}

async function append(chain: AuditChain, n: number): Promise<AuditRow[]> {
  const rows: AuditRow[] = [];
  for (let i = 0; i < n; i++) rows.push(await chain.append({ action: 'key.create', actor: 'ana@example.com', target: `k${i}` }));
  return rows;
}

const seqs = (rows: StreamedRow[]): number[] => rows.map((r) => r.seq);
const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);

function verifiesAsChain(rows: StreamedRow[]): boolean {
  const v = new AuditVerifier({ full: true });
  v.feed(rows.map(({ idempotency_id: _i, ...r }) => r));
  return v.result().ok;
}

describe('audit streaming', () => {
  it('sends every row in seq order, signed, and a restarted forwarder goes on from the cursor', async () => {
    const chain = new AuditChain(store);
    await append(chain, 4); // open row + 4
    const first = start(config('restart'));
    await until(() => arrived('restart', chain.id).length === 5);
    await first.stop();
    const sent = arrived('restart', chain.id);
    expect(seqs(sent)).toEqual(range(1, 5));
    expect(sent.map((r) => r.idempotency_id)).toEqual(range(1, 5).map((s) => `${chain.id}:${s}`));
    expect(verifiesAsChain(sent)).toBe(true);

    await append(chain, 2);
    start(config('restart'));
    await until(() => new Set(seqs(arrived('restart', chain.id))).size === 7);
    await new Promise((r) => setTimeout(r, 300));
    const all = seqs(arrived('restart', chain.id));
    // Stopped right after the receiver got a batch, before its cursor moved: that batch (at most
    // batch_rows) comes again, with the same ids; nothing is skipped.
    expect([...new Set(all)]).toEqual(range(1, 7));
    expect(all.length - 7).toBeLessThanOrEqual(3);
  }, 60_000);

  it('keeps a failing sink\'s rows and sends them all once it is back, saying so loudly without secrets', async () => {
    const chain = new AuditChain(store);
    const path = 'outage';
    rx.respond = (r) => (r.path.startsWith(`/${path}?`) ? 503 : 200);
    const { lines, logger } = logs();
    const h = hooked();
    start(config(path), { logger, hooks: h.hooks });
    await append(chain, 5);
    await until(() => h.failing.includes(true) && rx.received.filter((r) => r.path.startsWith(`/${path}?`)).length >= 4);
    const down = await statusOf(config(path), chain.id);
    expect(down).toMatchObject({ status: 'failing', last_error: { http_status: 503, code: 'http_503', reason: 'the sink failed (HTTP 503)' } });
    expect(down.consecutive_failures).toBeGreaterThanOrEqual(2);
    expect(down.failing_since).not.toBeNull();
    expect(down.chain?.rows_behind).toBeGreaterThan(0);
    expect(JSON.stringify(down)).not.toContain(TOKEN);
    const failLine = lines.find((l) => l.includes('audit sink failing'));
    expect(failLine).toBeDefined();
    expect(failLine).toContain('"sink":"outage"');
    expect(failLine).toContain('http_503');
    await append(chain, 3);
    rx.respond = () => 200;
    await until(() => new Set(seqs(arrived(path, chain.id))).size === 9);
    expect([...new Set(seqs(arrived(path, chain.id)))]).toEqual(range(1, 9));
    await until(() => h.failing.at(-1) === false);
    expect(lines.some((l) => l.includes('audit sink recovered'))).toBe(true);
    // The last batch's cursor is saved just after the receiver answered.
    await until(async () => (await statusOf(config(path), chain.id)).chain?.rows_behind === 0);
    const up = await statusOf(config(path), chain.id);
    expect(up).toMatchObject({ status: 'ok', failing_since: null, consecutive_failures: 0, last_error: { code: 'http_503' } });
    expect(up.chain).toMatchObject({ delivered_seq: 9, head_seq: 9, rows_behind: 0, oldest_undelivered_age_s: null });
    for (const l of lines) {
      expect(l).not.toContain(TOKEN);
      expect(l).not.toContain(SECRET);
    }
  }, 60_000);

  it('a forwarder taking a failing sink over goes on from the stored outcome: same failing_since, more failures', async () => {
    const path = 'takeover';
    rx.respond = (r) => (r.path.startsWith(`/${path}?`) ? 502 : 200);
    const first = start(config(path));
    await until(async () => (await statusOf(config(path))).status === 'failing');
    await first.stop();
    const before = await statusOf(config(path));
    start(config(path));
    await until(async () => (await statusOf(config(path))).consecutive_failures > before.consecutive_failures);
    expect(await statusOf(config(path))).toMatchObject({ status: 'failing', failing_since: before.failing_since, last_error: { code: 'http_502' } });
    rx.respond = () => 200;
    await until(async () => (await statusOf(config(path))).status === 'ok');
  }, 60_000);

  it('stops at once with a batch in flight (it stays pending for the next start)', async () => {
    const chain = new AuditChain(store);
    const path = 'hang';
    rx.respond = (r) => (r.path.startsWith(`/${path}?`) ? 0 : 200);
    const s = start(config(path, { timeout_ms: 60_000 }));
    await append(chain, 1);
    await until(() => rx.received.some((r) => r.path.startsWith(`/${path}?`)));
    const t0 = performance.now();
    await s.stop();
    expect(performance.now() - t0).toBeLessThan(2000);
    rx.respond = () => 200;
  }, 60_000);

  it('sends OTLP/JSON logs, one record per row with its chain fields', async () => {
    const otlp = await startOtlpReceiver();
    try {
      const chain = new AuditChain(store);
      const rows = await append(chain, 2);
      start(AuditConfig.parse({ sinks: [{ kind: 'otlp', name: 'otlp-json', endpoint: otlp.logsUrl, protocol: 'http/json', headers: { 'x-api-key': TOKEN } }], stream: { poll_ms: 50 } }));
      const ofChain = (): typeof otlp.logs => otlp.logs.filter((l) => l.attributes['gatelog.audit.chain_id'] === chain.id);
      await until(() => ofChain().length === 3);
      expect(ofChain().map((l) => [l.encoding, l.attributes['gatelog.audit.seq'], l.attributes['gatelog.audit.idempotency_id']])).toEqual(range(1, 3).map((q) => ['json', q, `${chain.id}:${q}`]));
      expect(ofChain()[2]!.attributes['gatelog.audit.row_hash']).toBe(rows[1]!.row_hash);
      expect(otlp.requests[0]!.headers['x-api-key']).toBe(TOKEN);
    } finally {
      await otlp.close();
    }
  }, 60_000);

  it('with a shared store one forwarder sends; when it stops another takes over from the cursor', async () => {
    const chain = new AuditChain(store);
    const path = 'lease';
    const a = start(config(path), { shared: true });
    await new Promise((r) => setTimeout(r, 200));
    start(config(path), { shared: true });
    await append(chain, 3);
    await until(() => arrived(path, chain.id).length >= 4);
    await new Promise((r) => setTimeout(r, 400));
    expect(seqs(arrived(path, chain.id))).toEqual(range(1, 4));
    // Which process forwards: the lease's holder names its host and pid.
    expect((await statusOf(config(path), chain.id, true)).lease).toMatchObject({ store: 'clickhouse', holder: expect.stringContaining(`:${process.pid}:`) });
    await a.stop();
    await append(chain, 3);
    await until(() => arrived(path, chain.id).length >= 7, 30_000);
    expect(seqs(arrived(path, chain.id))).toEqual(range(1, 7));
  }, 60_000);

  it('halves a batch the sink refuses as too large; a single row still refused waits (failing), other chains go on', async () => {
    const path = 'toolarge';
    const cfg = config(path, {}, 8);
    const chain = new AuditChain(store);
    const before = await append(chain, 6); // open row + 6
    // A few rows to a body: a full batch of 8 is refused, every row alone (a chain's open row is the largest) is taken.
    const eight = (batchRequest(cfg.sinks[0]!, [...before, ...before.slice(0, 2)], 'test')(0).body as string).length;
    let limit = 3000;
    expect(eight).toBeGreaterThan(limit);
    const taken = new Set<Received>();
    rx.respond = (r) => {
      if (!r.path.startsWith(`/${path}?`)) return 200;
      if (r.body.length > limit) return 413;
      taken.add(r);
      return 200;
    };
    /** Rows of `id`'s chain in the bodies the sink took, in arrival order. */
    const took = (id: string): StreamedRow[] => rx.received.filter((r) => taken.has(r)).flatMap((r) => (JSON.parse(r.body) as { rows: StreamedRow[] }).rows.filter((x) => x.chain_id === id));
    const huge = await chain.append({ action: 'key.create', actor: 'ana@example.com', target: 'huge', details: { note: 'x'.repeat(20_000) } });
    await append(chain, 10); // more than a batch behind the huge row
    // A chain read after the held-up one (chain_id order): it must not wait behind it.
    let other = new AuditChain(store);
    while (other.id < chain.id) other = new AuditChain(store);
    await append(other, 2);
    start(cfg);
    await until(() => took(chain.id).length >= 7 && took(other.id).length >= 3);
    await until(async () => (await statusOf(cfg, chain.id)).status === 'failing');
    // Several retry rounds (max_ms 100): the row is still refused, the sink still failing.
    await new Promise((r) => setTimeout(r, 600));
    // In small bodies, in order, up to the huge row; nothing past it; the other chain whole.
    expect(taken.size).toBeGreaterThan(2);
    expect(seqs(took(chain.id))).toEqual(range(1, 7));
    expect(seqs(took(other.id))).toEqual(range(1, 3));
    const stuck = await statusOf(cfg, chain.id);
    expect(stuck).toMatchObject({ status: 'failing', last_error: { http_status: 413, code: 'http_413' } });
    expect(stuck.last_error?.reason).toContain('too large');
    expect(stuck.chain).toMatchObject({ delivered_seq: 7, head_seq: 18, rows_behind: 11 });
    expect(stuck.consecutive_failures).toBeGreaterThan(1);
    expect(JSON.stringify(stuck)).not.toContain('xxxxxxxx');
    // The refused row is retried: once the sink takes bigger bodies, it and the rows after it arrive.
    limit = Infinity;
    await until(() => took(chain.id).length >= 18);
    expect(seqs(took(chain.id))).toEqual(range(1, 18));
    expect(took(chain.id)[7]!.row_hash).toBe(huge.row_hash);
    await until(async () => (await statusOf(cfg, chain.id)).status === 'ok');
    expect((await statusOf(cfg, chain.id)).chain).toMatchObject({ delivered_seq: 18, rows_behind: 0 });
  }, 60_000);
});
