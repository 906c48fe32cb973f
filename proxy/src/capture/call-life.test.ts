import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import type { LlmCallEvent } from '@gatelog/core';
import { CallLife } from './call-life.ts';
import type { CallRecord } from './call-record.ts';
import { readRequestMeta } from './request-meta.ts';
import { NO_TOKENS } from './usage.ts';
import { createMetrics } from '../metrics.ts';
import type { RequestState } from '../request-state.ts';

function setup() {
  const t0 = performance.now();
  const rec: CallRecord = {
    requestId: 'req-1', wallStart: Date.now(), t0, tDispatch: t0 + 1, tFirstByte: 0, tUpstreamEnd: 0,
    meta: readRequestMeta({}), endpoint: '/v1/chat/completions', api: 'openai.chat', requestedModel: 'gpt-4o-mini',
    provider: 'openai', priceProviderId: undefined, deploymentModel: 'gpt-4o-mini', upstreamModel: '', stream: false,
    status: 0, outcome: 'success', errorType: '', errorMessage: '', errorClass: '', finishReason: '',
    tokens: { ...NO_TOKENS, input_tokens: 10, output_tokens: 5 }, requestBody: '{"model":"gpt-4o-mini"}', responseBody: '',
  };
  const settled: (LlmCallEvent | null)[] = [];
  rec.onEvent = (e) => settled.push(e);
  const published: LlmCallEvent[] = [];
  const registry = new Registry();
  const env = {
    bodyCap: 65536, cost: () => 0.001, publish: (e: LlmCallEvent) => published.push(e),
    onPublishError: (err: unknown) => { throw err; }, metrics: createMetrics(registry),
  };
  const st: RequestState = { id: 'req-1', t0, wall: rec.wallStart, event: 'pending' };
  const life = new CallLife(env, rec, st, '/v1/chat/completions', {});
  const metric = async (name: string): Promise<string> => (await registry.getSingleMetricAsString(name)).split('\n').filter((l) => !l.startsWith('#')).join('\n');
  return { rec, life, st, settled, published, metric };
}

describe('CallLife', () => {
  it('a client abort before any status is a 499, published and settled once, counted as a request but not as an upstream error', async () => {
    const { life, st, settled, published, metric } = setup();
    life.aborted(false);
    life.publishEstimated(null, true);
    life.publish(true);
    let after = 0;
    life.publishEstimated(null, true, () => after++);
    expect(after).toBe(1);
    expect(st.event).toBe('published');
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({ status: 499, outcome: 'client_aborted', error_type: 'client_aborted', attempts: [{ error_class: 'client_aborted', status: 499 }] });
    expect(settled).toEqual([published[0]]);
    expect(await metric('gatelog_requests_total')).toContain('gatelog_requests_total{route="/v1/chat/completions",status="499"} 1');
    expect(await metric('gatelog_upstream_errors_total')).toBe('');
  });

  it('a client abort after the status went out keeps the status answered', () => {
    const { life, published } = setup();
    life.answered(200);
    life.aborted(true);
    life.publish();
    expect(published[0]).toMatchObject({ status: 200, outcome: 'client_aborted' });
  });

  it('a failed upstream is recorded with its class and message, published at once and counted as an upstream error; released then settles nothing more', async () => {
    const { rec, life, settled, published, metric } = setup();
    life.failed({ status: 502, errorClass: 'upstream_connect_error', message: 'connection refused' });
    expect(rec.tUpstreamEnd).toBeGreaterThan(0);
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({ status: 502, outcome: 'error', error_type: 'upstream_connect_error', error_message: 'connection refused' });
    life.released();
    expect(settled).toEqual([published[0]]);
    expect(await metric('gatelog_upstream_errors_total')).toContain('gatelog_upstream_errors_total{provider="openai",class="upstream_connect_error"} 1');
    // Answered responses are counted by fastify's onResponse hook, not here.
    expect(await metric('gatelog_requests_total')).toBe('');
  });

  it('released before any event gives back what governance reserved (null), and nothing is published', () => {
    const { life, settled, published } = setup();
    life.released();
    expect(settled).toEqual([null]);
    expect(published).toEqual([]);
  });

  it('a broken response is partial with its class; an HTTP error answer is error with http_<status>; a clean one is success', () => {
    const broken = setup();
    broken.life.answered(200);
    broken.life.broke('upstream_idle_timeout', 'no bytes for 30 s');
    broken.life.publish();
    expect(broken.published[0]).toMatchObject({ status: 200, outcome: 'partial', error_type: 'upstream_idle_timeout', error_message: 'no bytes for 30 s', attempts: [{ error_class: 'upstream_idle_timeout' }] });

    const http = setup();
    http.life.answered(429);
    http.life.httpError('rate_limit_exceeded', 'slow down');
    http.life.publish();
    expect(http.published[0]).toMatchObject({ status: 429, outcome: 'error', error_type: 'rate_limit_exceeded', attempts: [{ error_class: 'http_429' }] });

    const ok = setup();
    ok.life.answered(200);
    ok.life.succeeded();
    ok.life.publish();
    expect(ok.published[0]).toMatchObject({ status: 200, outcome: 'success', error_type: '', attempts: [{ error_class: '' }] });
  });
});
