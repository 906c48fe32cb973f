// Several proxies sharing one ClickHouse fire a condition once, not once per replica: three
// evaluators with `shared: true` on one real chDB store claim each slot in alert_lease, and a
// seeded error storm reaches the webhook exactly once; a slot claimed by five holders at once
// has exactly one winner.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, migrate, newRequestId, openStore, StorageConfig, type Store } from '@gatelog/core';
import { AlertsConfig } from '@gatelog/core/alerts/rule';
import { startAlerts, type AlertsRunner } from '@gatelog/core/alerts/evaluator';
import { claimAlertSlot, listAlertEvents } from '@gatelog/core/store/alert-queries';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

let dir: string;
let store: Store;
let rx: WebhookReceiver;
const runners: AlertsRunner[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatelog-alerts-lease-'));
  store = await openStore(StorageConfig.parse({}), dir);
  await migrate(store);
  rx = await startWebhookReceiver();
}, 60_000);

afterAll(async () => {
  await Promise.all(runners.map((r) => r.stop()));
  await rx?.close();
  await store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('alert evaluation across replicas', () => {
  it('one slot, five claimants, one winner', async () => {
    const holders = ['a', 'b', 'c', 'd', 'e'];
    const won = await Promise.all(holders.map((h) => claimAlertSlot(store, 424242, h)));
    expect(won.filter(Boolean)).toHaveLength(1);
    // A late claimant of the same slot loses too.
    expect(await claimAlertSlot(store, 424242, 'late')).toBe(false);
  });

  it('three evaluators fire an error storm once', async () => {
    const now = new Date().toISOString();
    const rows = Array.from({ length: 20 }, (_, i) => ({
      request_id: newRequestId(), started_at: now, requested_model: 'm-storm', provider: 'p', status: i < 15 ? 500 : 200, outcome: i < 15 ? 'error' : 'success', latency_ms: 10, cost_usd: 0,
    }));
    await store.insertRaw('llm_calls', Buffer.from(rows.map((r) => JSON.stringify(r)).join('\n')));
    const config = AlertsConfig.parse({
      interval_s: 0.3,
      channels: { hook: { kind: 'webhook', url: `${rx.url}/h`, secret: 'lease-test-secret-0123456789' } },
      rules: [{ id: 'storm', kind: 'error_rate', threshold: 0.5, window_s: 600, min_calls: 10, cooldown_s: 0, scope: { model: 'm-storm' }, channels: ['hook'] }],
    });
    for (const instance of ['proxy-a', 'proxy-b', 'proxy-c']) {
      runners.push(startAlerts({ store, config, teams: {}, logger: createLogger('silent'), shared: true, instance }));
    }
    const deadline = Date.now() + 60_000;
    while (rx.received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 3000)); // ~10 more slots, each claimed by all three
    expect(rx.received).toHaveLength(1);
    expect(await listAlertEvents(store, { rule: 'storm', kind: 'fired' })).toHaveLength(1);
    const claims = await store.client.query({ query: `SELECT uniqExact(holder) AS n FROM ${store.database}.alert_lease WHERE slot != 424242`, format: 'JSONEachRow' });
    expect(Number((await claims.json<{ n: string }>())[0]?.n)).toBe(3);
  }, 90_000);
});
