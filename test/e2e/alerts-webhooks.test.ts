// Alerts end to end against a real chDB store and real webhook receivers over HTTP: a seeded
// spend spike fires exactly once (generic signed webhook + Slack payload), recovers exactly once
// when it clears; a receiver answering 500 gets bounded retries with exponential backoff; a team
// budget crosses 80 %; every transition and attempt is in alert_events, and no webhook URL token
// or signing secret reaches the history or the logs. The evaluator runs on its real timer (short
// interval); its clock is the test's, so "the condition clears" is a clock step, not a wait.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, migrate, openStore, StorageConfig, type LlmCallEvent, type Store } from '@gatelog/core';
import { testEvent } from '@gatelog/core/store/test-event';
import { AlertsConfig, type AlertRuleInput } from '@gatelog/core/alerts/rule';
import { startAlerts, type AlertsRunner } from '@gatelog/core/alerts/evaluator';
import { listAlertEvents } from '@gatelog/core/store/alert-queries';
import { startWebhookReceiver, verifySignature, type WebhookReceiver } from '../support/webhook-receiver.ts';

const SECRET = 'whsec-test-0123456789abcdef';
const TOKEN = 'T0KEN-in-the-url-s3cr3t';
const MIN = 60_000;

const call = (over: Partial<LlmCallEvent>): LlmCallEvent => testEvent({ started_at: new Date().toISOString(), requested_model: 'm', ...over });

async function until(what: string, ok: () => boolean, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let dir: string;
let store: Store;
let hook: WebhookReceiver;
let slack: WebhookReceiver;
let failing: WebhookReceiver;
let hanging: WebhookReceiver;
let gone: WebhookReceiver;
let logs = '';
let now = Date.now();
let runner: AlertsRunner;
const t0 = Date.now();

const typeOf = (r: { body: string }): string => (JSON.parse(r.body) as { type?: string }).type ?? '';
const slackText = (r: { body: string }): string => (JSON.parse(r.body) as { text: string }).text;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatelog-alerts-'));
  store = await openStore(StorageConfig.parse({}), dir);
  await migrate(store);
  [hook, slack, failing, hanging, gone] = await Promise.all([startWebhookReceiver(), startWebhookReceiver(), startWebhookReceiver(), startWebhookReceiver(), startWebhookReceiver()]);
  failing.respond = () => 500;
  hanging.respond = () => 0;
  gone.respond = () => 404;

  // History: $0.50 a minute for 12 minutes, then $20 in the current minute (model m-spike).
  const rows: LlmCallEvent[] = [];
  for (let k = 1; k <= 12; k++) rows.push(call({ requested_model: 'm-spike', cost_usd: 0.5, started_at: new Date(now - k * MIN).toISOString() }));
  for (let i = 0; i < 4; i++) rows.push(call({ requested_model: 'm-spike', cost_usd: 5, started_at: new Date(now).toISOString() }));
  // 10 calls of m-err, 8 failed: an error rate of 0.8.
  for (let i = 0; i < 10; i++) rows.push(call({ requested_model: 'm-err', status: i < 8 ? 502 : 200, outcome: i < 8 ? 'error' : 'success', cost_usd: 0, started_at: new Date(now).toISOString() }));
  // Team "search" ($10 monthly budget) has spent $9.
  rows.push(call({ requested_model: 'm-team', team: 'search', cost_usd: 9, started_at: new Date(now).toISOString() }));
  await store.insertRaw('llm_calls', Buffer.from(rows.map((r) => JSON.stringify(r)).join('\n')));

  const rules: AlertRuleInput[] = [
    { id: 'spend-spike', name: 'Spend spike on m-spike', kind: 'spend_spike', threshold: 3, window_s: 60, min_usd: 1, cooldown_s: 0, scope: { model: 'm-spike' }, channels: ['hook', 'slack'] },
    { id: 'errors', kind: 'error_rate', threshold: 0.5, window_s: 3600, min_calls: 5, scope: { model: 'm-err' }, channels: ['failing'] },
    { id: 'errors-elsewhere', kind: 'error_rate', threshold: 0.5, window_s: 3600, min_calls: 5, scope: { model: 'm-err' }, channels: ['hanging', 'gone'] },
    { id: 'team-80', kind: 'budget', threshold: 80, scope: { team: 'search' }, channels: ['hook'] },
  ];
  const config = AlertsConfig.parse({
    interval_s: 0.2,
    channels: {
      hook: { kind: 'webhook', url: `${hook.url}/gatelog/${TOKEN}`, secret: SECRET },
      slack: { kind: 'slack', url: `${slack.url}/services/${TOKEN}` },
      failing: { kind: 'webhook', url: `${failing.url}/x/${TOKEN}`, secret: SECRET },
      hanging: { kind: 'slack', url: `${hanging.url}/x/${TOKEN}` },
      gone: { kind: 'webhook', url: `${gone.url}/x/${TOKEN}`, secret: SECRET },
    },
    rules,
    delivery: { attempts: 4, base_ms: 200, max_ms: 1000, timeout_ms: 1500 },
  });
  const out = new PassThrough();
  out.on('data', (c: Buffer) => { logs += c.toString('utf8'); });
  runner = startAlerts({ store, config, teams: { search: { budget_usd: 10, period: 'monthly' } }, logger: createLogger('debug', out), shared: false, now: () => now });
}, 60_000);

afterAll(async () => {
  await runner?.stop();
  await Promise.all([hook?.close(), slack?.close(), failing?.close(), hanging?.close(), gone?.close()]);
  await store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('alerts delivered to webhooks', () => {
  it('a seeded spend spike fires exactly once, signed, and Slack gets a valid payload', async () => {
    const spikeHooks = () => hook.received.filter((r) => r.body.includes('"spend-spike"'));
    await until('the spike firing', () => spikeHooks().length >= 1 && slack.received.length >= 1);
    expect(Date.now() - t0).toBeLessThan(120_000);
    await pause(2000); // ~10 more ticks with the spike still there
    expect(spikeHooks().map(typeOf)).toEqual(['alert.fired']);
    expect(slack.received).toHaveLength(1);

    const fired = spikeHooks()[0]!;
    expect(verifySignature(SECRET, fired.headers['x-gatelog-signature'] as string, fired.body, Math.floor(now / 1000))).toBe(true);
    expect(verifySignature('another-secret-0123456789', fired.headers['x-gatelog-signature'] as string, fired.body, Math.floor(now / 1000))).toBe(false);
    expect(verifySignature(SECRET, fired.headers['x-gatelog-signature'] as string, `${fired.body} `, Math.floor(now / 1000))).toBe(false);
    const msg = JSON.parse(fired.body) as { rule: { id: string; kind: string }; subject: string; value: number; threshold: number; incident_id: string };
    expect(msg.rule).toMatchObject({ id: 'spend-spike', kind: 'spend_spike' });
    expect(msg.subject).toBe('model=m-spike');
    expect(msg.value).toBeCloseTo(20, 6);
    expect(fired.headers['content-type']).toBe('application/json');

    const s = JSON.parse(slack.received[0]!.body) as { text: unknown; blocks: { type: string; text?: { type: string; text: string }; elements?: { type: string }[] }[] };
    expect(typeof s.text).toBe('string');
    expect(s.text).toContain('FIRING');
    expect(s.text).toContain('Spend spike on m-spike');
    expect(s.blocks.length).toBeGreaterThan(0);
    for (const b of s.blocks) {
      expect(['header', 'section', 'context']).toContain(b.type);
      if (b.type === 'header') expect(b.text?.type).toBe('plain_text');
      if (b.type === 'section') expect(b.text?.type).toBe('mrkdwn');
      if (b.type === 'context') expect(b.elements?.every((e) => e.type === 'mrkdwn')).toBe(true);
    }
    expect(slack.received[0]!.headers['x-gatelog-signature']).toBeUndefined();
  }, 180_000);

  it('recovers exactly once when the spike has passed', async () => {
    now += 3 * MIN; // the spike minute is history now; the current window is empty
    await until('the spike resolving', () => slack.received.length >= 2);
    await pause(2000);
    const spike = hook.received.filter((r) => r.body.includes('"spend-spike"'));
    expect(spike.map(typeOf)).toEqual(['alert.fired', 'alert.resolved']);
    expect(slack.received.map(slackText).map((t) => (t.includes('RESOLVED') ? 'resolved' : 'fired'))).toEqual(['fired', 'resolved']);
    const [f, r] = spike.map((x) => JSON.parse(x.body) as { incident_id: string });
    expect(r!.incident_id).toBe(f!.incident_id);
    const events = await listAlertEvents(store, { rule: 'spend-spike' });
    expect(events.filter((e) => e.kind === 'fired')).toHaveLength(1);
    expect(events.filter((e) => e.kind === 'resolved')).toHaveLength(1);
    expect(events.filter((e) => e.kind === 'delivery' && e.http_status === 200).map((e) => e.channel).sort()).toEqual(['hook', 'hook', 'slack', 'slack']);
  }, 180_000);

  it('a receiver answering 500 gets bounded retries with exponential backoff', async () => {
    await until('four attempts', () => failing.received.length >= 4, 60_000);
    await runner.idle();
    await pause(1500);
    expect(failing.received).toHaveLength(4); // attempts: 4, then it gives up
    const gaps = failing.received.slice(1).map((r, i) => r.at - failing.received[i]!.at);
    // base 200 ms doubling: at least 200, 400, 800 (only lower bounds: a loaded machine stretches timers)
    expect(gaps[0]).toBeGreaterThanOrEqual(180);
    expect(gaps[1]).toBeGreaterThanOrEqual(380);
    expect(gaps[2]).toBeGreaterThanOrEqual(780);
    expect(new Set(failing.received.map((r) => r.body)).size).toBe(1); // one message, retried
    const attempts = (await listAlertEvents(store, { rule: 'errors', kind: 'delivery' })).sort((a, b) => a.attempt - b.attempt);
    expect(attempts.map((a) => [a.attempt, a.http_status, a.delivery_error])).toEqual([1, 2, 3, 4].map((n) => [n, 500, 'http_500']));
    expect((await listAlertEvents(store, { rule: 'errors', kind: 'fired' }))).toHaveLength(1);
    expect(logs).toContain('GATELOG_WARN_ALERT_DELIVERY');
  }, 120_000);

  it('a receiver that never answers is retried after each timeout; a 404 is final', async () => {
    await until('four timed-out attempts', () => hanging.received.length >= 4, 60_000);
    await runner.idle();
    expect(hanging.received).toHaveLength(4);
    expect(gone.received).toHaveLength(1);
    const attempts = await listAlertEvents(store, { rule: 'errors-elsewhere', kind: 'delivery' });
    expect(attempts.filter((a) => a.channel === 'hanging').map((a) => a.delivery_error)).toEqual(['timeout', 'timeout', 'timeout', 'timeout']);
    expect(attempts.filter((a) => a.channel === 'gone').map((a) => [a.http_status, a.delivery_error])).toEqual([[404, 'http_404']]);
  }, 120_000);

  it('a team crossing 80 % of its budget fires once with its spend', async () => {
    await until('the budget alert', () => hook.received.some((r) => r.body.includes('"team-80"')), 60_000);
    await pause(1000);
    const b = hook.received.filter((r) => r.body.includes('"team-80"'));
    expect(b).toHaveLength(1);
    const m = JSON.parse(b[0]!.body) as { subject: string; value: number; message: string };
    expect(m.subject).toBe('team=search');
    expect(m.value).toBeCloseTo(90, 6);
    expect(m.message).toContain('$9');
  }, 120_000);

  it('no webhook URL token or signing secret reaches alert_events or the logs', async () => {
    const rs = await store.client.query({ query: `SELECT * FROM ${store.database}.alert_events`, format: 'JSONEachRow' });
    const all = await rs.text();
    expect(all.length).toBeGreaterThan(100);
    for (const s of [TOKEN, SECRET, hook.url, failing.url, hanging.url, gone.url]) {
      expect(all).not.toContain(s);
      expect(logs).not.toContain(s);
    }
  });
});
