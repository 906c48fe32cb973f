// The hot path of one call: dispatch upstream, tee the response to the client as it arrives
// (chunk by chunk, with backpressure), capture it, and publish the event before the final
// end() so a record is durable before the client sees the end. One place handles upstream
// failure, client abort and completion; handlers never copy this logic.
import type { ServerResponse, OutgoingHttpHeaders, IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import type { LlmCallEvent } from '@gatelog/core';
import { ProxyError, classifyUpstreamError } from './errors.ts';
import { toEvent, type CallRecord, type EventEnv } from './capture/call-record.ts';
import { StreamCapture, summarizeJsonBody } from './capture/response-capture.ts';
import { estimateTokens, estimateTokensNow, tokensFromUsage } from './capture/usage.ts';
import type { Provider, UpstreamResponse } from './providers/types.ts';
import type { ProxyMetrics } from './metrics.ts';

export interface RelayEnv extends EventEnv {
  publish: (e: LlmCallEvent) => void;
  /** Called when building or publishing an event throws (throttled by the caller). */
  onPublishError: (err: unknown, requestId: string) => void;
  metrics: ProxyMetrics;
}

export interface RelayInput {
  rec: CallRecord;
  provider: Provider;
  route: string;
  /** Exact bytes to send upstream. */
  upstreamBody: Buffer | string;
  /** Parsed body as sent upstream. */
  json: Record<string, unknown>;
  /** The proxy added stream_options.include_usage: withhold the usage-only chunk. */
  dropUsageChunk: boolean;
}

const isEventStream = (ct: string | undefined): boolean => ct !== undefined && ct.startsWith('text/event-stream');

/** Upstream response headers worth passing to the client (request ids, rate limits). */
function passHeader(name: string): boolean {
  return name === 'x-request-id' || name === 'retry-after' || name.startsWith('openai-') || name.startsWith('x-ratelimit-');
}

function clientHeaders(up: IncomingHttpHeaders, requestId: string, sse: boolean): OutgoingHttpHeaders {
  const h: OutgoingHttpHeaders = { 'content-type': up['content-type'] ?? (sse ? 'text/event-stream' : 'application/json'), 'x-gatelog-request-id': requestId };
  if (sse) h['cache-control'] = 'no-cache';
  for (const name in up) if (passHeader(name)) h[name] = up[name];
  return h;
}

/**
 * Build and publish the event. `count`: also count the request in metrics — only for
 * responses that never 'finish' (client abort, broken upstream); fastify's onResponse
 * hook counts all the others.
 */
function publishSafely(env: RelayEnv, rec: CallRecord, route: string, count = false, tEnd = performance.now()): void {
  let event: LlmCallEvent;
  try {
    event = toEvent(rec, env, tEnd);
    env.publish(event);
  } catch (err) {
    // Never fail the client's call because recording failed.
    env.onPublishError(err, rec.requestId);
    return;
  }
  if (count) env.metrics.request(route, rec.status, event.latency_ms / 1000);
  env.metrics.overhead(event.overhead_ms / 1000);
  if (rec.errorClass && rec.outcome !== 'client_aborted') env.metrics.upstreamError(rec.provider, rec.errorClass);
}

/**
 * Forward one call. Resolves when the response is wired up (or answered); rejects with a
 * ProxyError only before anything was sent, so fastify's error handler answers it.
 */
export async function relay(env: RelayEnv, reply: FastifyReply, input: RelayInput): Promise<void> {
  const { rec, provider, route } = input;
  const res: ServerResponse = reply.raw;
  const ac = new AbortController();
  let up: UpstreamResponse | null = null;
  let done = false;
  let capture: StreamCapture | null = null;
  let chunks: Buffer[] | null = null;

  const responseText = (): string => {
    capture?.digest();
    if (capture) return capture.assembler.chunks > 0 ? JSON.stringify(capture.assembler.toJSON()) : '';
    return chunks ? Buffer.concat(chunks).toString('utf8') : '';
  };

  const onClientClose = (): void => {
    if (done || res.writableEnded) return;
    done = true;
    rec.tUpstreamEnd = performance.now();
    ac.abort();
    up?.body.destroy();
    rec.outcome = 'client_aborted';
    rec.errorType = 'client_aborted';
    rec.errorClass = 'client_aborted';
    if (!res.headersSent) rec.status = 499;
    rec.responseBody = responseText();
    if (capture) applyStreamSummary(rec, capture);
    publishSafely(env, rec, route, true);
  };
  res.on('close', onClientClose);

  rec.tDispatch = performance.now();
  try {
    up = await provider.call({ api: rec.api, model: rec.deploymentModel, body: input.upstreamBody, json: input.json, stream: rec.stream, signal: ac.signal });
  } catch (err) {
    if (done) {
      reply.hijack();
      return;
    }
    done = true;
    res.off('close', onClientClose);
    const f = classifyUpstreamError(err);
    rec.tUpstreamEnd = performance.now();
    rec.status = f.status;
    rec.outcome = 'error';
    rec.errorType = f.errorClass;
    rec.errorClass = f.errorClass;
    rec.errorMessage = f.message;
    publishSafely(env, rec, route);
    throw new ProxyError(f.status, f.errorClass, `${f.message} from provider ${provider.name}`, 'upstream_error');
  }
  if (done) {
    // The client left while we waited for headers; the abort already recorded the call.
    up.body.destroy();
    reply.hijack();
    return;
  }

  reply.hijack();
  const body: Readable = up.body;
  const status = up.status;
  rec.status = status;
  // An upstream may answer a stream request with plain JSON (or an error): capture it as such.
  const sse = rec.stream && status < 300 && isEventStream(up.headers['content-type']);
  if (sse) capture = new StreamCapture(rec.api === 'openai.completions' ? 'completions' : 'chat', input.dropUsageChunk);
  else chunks = [];
  const filtering = sse && input.dropUsageChunk;
  res.writeHead(status, clientHeaders(up.headers, rec.requestId, sse));

  const write = (buf: Buffer): void => {
    if (rec.tFirstByte === 0) rec.tFirstByte = performance.now();
    if (!res.write(buf)) {
      body.pause();
      res.once('drain', () => body.resume());
    }
  };

  body.on('data', (chunk: Buffer) => {
    if (done) return;
    if (filtering) {
      const out = capture!.filter(chunk);
      if (out.length === 1) write(out[0]!);
      // Several events from one upstream read: one write (one chunk, one syscall), not one per event.
      else if (out.length > 1) write(Buffer.concat(out));
    } else {
      write(chunk);
      if (capture) capture.observe(chunk);
      else chunks!.push(chunk);
    }
    capture?.digest();
  });

  body.on('error', (err: unknown) => {
    if (done) return;
    done = true;
    rec.tUpstreamEnd = performance.now();
    const f = classifyUpstreamError(err);
    rec.outcome = 'partial';
    rec.errorType = f.errorClass;
    rec.errorClass = f.errorClass;
    rec.errorMessage = `${f.message} mid-response`;
    rec.responseBody = responseText();
    if (capture) applyStreamSummary(rec, capture);
    publishSafely(env, rec, route, true);
    // The client must see a broken response, not a clean end of a truncated one.
    res.destroy();
  });

  body.on('end', () => {
    if (done) return;
    rec.tUpstreamEnd = performance.now();
    if (capture) {
      const tail = capture.end();
      if (filtering) for (const b of tail) write(b);
    }
    done = true;
    complete(env, rec, route, res, capture, chunks, input.json);
  });
}

function applyStreamSummary(rec: CallRecord, capture: StreamCapture): void {
  const a = capture.assembler;
  rec.upstreamModel = a.model;
  rec.finishReason = a.finishReason;
  if (a.usage) rec.tokens = tokensFromUsage(a.usage);
}

/** Upstream finished cleanly: summarize, publish, then end the client's response. */
function complete(
  env: RelayEnv,
  rec: CallRecord,
  route: string,
  res: ServerResponse,
  capture: StreamCapture | null,
  chunks: Buffer[] | null,
  json: Record<string, unknown>,
): void {
  let estimateFrom: string | null = null;
  if (capture) {
    const a = capture.assembler;
    rec.responseBody = a.chunks > 0 ? JSON.stringify(a.toJSON()) : '';
    applyStreamSummary(rec, capture);
    if (!a.usage) estimateFrom = a.outputText();
    rec.outcome = 'success';
  } else {
    rec.responseBody = chunks ? Buffer.concat(chunks).toString('utf8') : '';
    const s = summarizeJsonBody(rec.responseBody, rec.status);
    rec.upstreamModel = s.upstreamModel;
    rec.finishReason = s.finishReason;
    if (s.tokens) rec.tokens = s.tokens;
    if (rec.status >= 400) {
      rec.outcome = 'error';
      rec.errorType = s.errorType;
      rec.errorMessage = s.errorMessage;
      rec.errorClass = `http_${rec.status}`;
    } else {
      rec.outcome = 'success';
      if (!s.tokens && rec.status < 300) estimateFrom = s.outputText;
    }
  }
  if (estimateFrom !== null) {
    const now = estimateTokensNow(json, estimateFrom);
    if (now) rec.tokens = now;
    else {
      // First estimate of the process: the tokenizer is still loading. Don't hold the client
      // for it; the record follows the end by that one-off load.
      const tEnd = performance.now();
      res.end();
      void estimateTokens(json, estimateFrom).then((t) => {
        rec.tokens = t;
        publishSafely(env, rec, route, false, tEnd);
      });
      return;
    }
  }
  publishSafely(env, rec, route);
  res.end();
}
