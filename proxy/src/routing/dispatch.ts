// The attempt loop of one call: try the plan's deployment, and on a retryable failure before
// anything reached the client, wait (backoff / Retry-After) and try what the plan says next.
// Every failed attempt is recorded on the call record; the deployment that answers becomes the
// record's provider/deployment_model. Writes nothing to the client.
import { setTimeout as sleep } from 'node:timers/promises';
import type { RouterConfig } from '@gatelog/core';
import type { CallRecord } from '../capture/call-record.ts';
import { AttemptTap } from '../capture/attempt-tap.ts';
import { withTopLevel } from '@gatelog/core/json/top-level';
import { REDACTED_STREAM_KEEP_BYTES, TAP_MARGIN_BYTES } from '../capture/attempt-io.ts';
import type { FormBody, Provider } from '../providers/types.ts';
import type { ProxyMetrics } from '../metrics.ts';
import { runAttempt, type AttemptFailed, type AttemptOk } from './attempt.ts';
import type { DeploymentState } from './deployment-state.ts';
import type { AttemptPlan } from './plan.ts';

export interface DispatchInput {
  rec: CallRecord;
  /** Used when there is no plan (a surface that does not route yet). */
  provider: Provider;
  plan: AttemptPlan | null;
  upstreamBody: Buffer | string;
  json: Record<string, unknown>;
  /**
   * `json` is the client's own JSON with top-level fields set by routing only, and a string
   * `upstreamBody` its text so changed (routes/body.ts forwardBody): so is each deployment's.
   */
  derived?: boolean | undefined;
  /**
   * With `derived`: the top-level fields `upstreamBody` is the client's text with ({} for the
   * client's own bytes), absent when it is a re-serialisation (AttemptTap.derivedSet).
   */
  set?: Readonly<Record<string, string>> | undefined;
  /** A string `upstreamBody`'s UTF-8, sent in its place (AttemptTap.derivedBytes). */
  bytes?: Buffer | undefined;
  headers?: Readonly<Record<string, string>> | undefined;
  /** The body is a form (an audio upload): each attempt's bytes come from it, not `upstreamBody`. */
  form?: FormBody | undefined;
  /** The stored body cap: each attempt's raw response is kept up to it (plus a margin), hashed whole. */
  bodyCap: number;
  /**
   * How the call's bodies are stored (redaction): nothing is kept for 'none', and a raw event
   * stream only for 'original' (attempt-io.ts withholds it otherwise). Default 'original'.
   */
  storedAs?: 'original' | 'redacted' | 'none' | undefined;
}

export interface DispatchControl {
  /** The client went away. */
  gone(): boolean;
  /** The controller to abort if the client goes away now (an attempt, or a backoff wait). */
  current(ac: AbortController | null): void;
}

export type Dispatched =
  | { kind: 'ok'; r: AttemptOk; state: DeploymentState | null; json: Record<string, unknown> }
  | { kind: 'failed'; r: AttemptFailed }
  | { kind: 'gone' };

const round3 = (ms: number): number => Math.round(Math.max(0, ms) * 1000) / 1000;

export async function dispatch(router: RouterConfig, metrics: ProxyMetrics, input: DispatchInput, ctl: DispatchControl): Promise<Dispatched> {
  const { rec, plan } = input;
  const ttfbMs = router.timeouts.ttfb_ms;
  const deadline = plan ? plan.deadline : rec.t0 + router.timeouts.total_ms;
  const firstModel = rec.deploymentModel;
  let target = plan ? plan.first : null;
  let provider = input.provider;
  let body = input.upstreamBody;
  let json = input.json;
  let set = input.set;
  rec.tDispatch = performance.now();
  for (;;) {
    const state = target ? target.state : null;
    if (state) {
      provider = state.provider;
      rec.provider = provider.name;
      rec.priceProviderId = provider.priceProviderId;
      rec.deploymentModel = state.model;
      if (state.model === firstModel) {
        body = input.upstreamBody;
        json = input.json;
        set = input.set;
      } else {
        // Another deployment serves another upstream model name: the first body with it.
        json = { ...input.json, model: state.model };
        const first = input.upstreamBody;
        // (A form's bytes come from the form, below.)
        if (!input.form) {
          const model = JSON.stringify(state.model);
          const text = withTopLevel(typeof first === 'string' ? first : first.toString('utf8'), { model });
          body = text ?? JSON.stringify(json);
          // Setting the model again over the first body's fields is setting them all at once
          // over the client's text: withTopLevel replaces keys in place and appends in order.
          set = text !== null && input.set ? { ...input.set, model } : undefined;
        }
      }
    }
    // A form is written per deployment by its own rules (the model field spliced in place).
    if (input.form) body = input.form.forModel(rec.deploymentModel);
    const start = performance.now();
    rec.tAttempt = start;
    (rec.attemptStarts ??= []).push(start - rec.t0);
    const remaining = deadline - start;
    const ac = new AbortController();
    ctl.current(ac);
    state?.begin(start);
    const keep = input.storedAs === 'none' ? 0 : input.bodyCap + TAP_MARGIN_BYTES;
    const tap = new AttemptTap(keep, input.storedAs === 'redacted' ? Math.min(keep, REDACTED_STREAM_KEEP_BYTES) : keep);
    if (input.form) {
      tap.clientBody = input.form.raw;
      tap.requestShown = input.form.shownFor(rec.deploymentModel);
    } else {
      if (typeof input.upstreamBody !== 'string') tap.clientBody = input.upstreamBody;
      if (input.derived === true && typeof body === 'string') {
        tap.derived = body;
        tap.derivedSet = set ?? null;
        if (body === input.upstreamBody) tap.derivedBytes = input.bytes ?? null;
      }
    }
    (rec.attemptTaps ??= []).push(tap);
    let r: AttemptOk | AttemptFailed;
    try {
      r = await runAttempt(
        provider,
        { api: rec.api, model: rec.deploymentModel, body, json, stream: rec.stream, tap, ...(input.headers ? { headers: input.headers } : {}), ...(input.form ? { contentType: input.form.contentType } : {}) },
        ac,
        target && plan ? plan.limitFor(target, start, ttfbMs) : { ttfbMs: Math.min(ttfbMs, remaining), deadlineBound: remaining <= ttfbMs },
        Date.now(),
      );
    } catch (err) {
      state?.end();
      throw err;
    } finally {
      ctl.current(null);
    }
    if (ctl.gone()) {
      if (r.ok) r.up.body.destroy();
      state?.end();
      return { kind: 'gone' };
    }
    if (r.ok) {
      state?.succeed(r.latencyMs);
      return { kind: 'ok', r, state, json };
    }
    const now = performance.now();
    if (state) {
      if (r.retryable) state.fail(now, r.errorClass);
      else if (r.response) state.succeed(r.latencyMs); // it answered: alive, the request was the problem
      state.end();
    }
    const step = plan ? plan.next(r, now) : null;
    if (!step) return { kind: 'failed', r };
    (rec.priorAttempts ??= []).push({ provider: rec.provider, model: rec.deploymentModel, status: r.status, error_class: r.errorClass, latency_ms: round3(r.latencyMs) });
    metrics.upstreamError(rec.provider, r.errorClass);
    if (step.delayMs > 0) {
      const wait = new AbortController();
      ctl.current(wait);
      await sleep(step.delayMs, undefined, { signal: wait.signal }).catch(() => undefined);
      ctl.current(null);
      if (ctl.gone()) return { kind: 'gone' };
    }
    target = step.target;
  }
}
