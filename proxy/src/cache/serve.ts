// The two ends of the response cache in the request path: answering a hit (the stored body
// as-is, or replayed as OpenAI SSE for a stream request) and recording it as a call with
// cache_hit, cost 0 and the cost it saved; and storing a finished call's response.
import type { FastifyReply } from 'fastify';
import type { LlmCallEvent } from '@gatelog/core';
import { toEvent, type CallRecord, type EventEnv } from '../capture/call-record.ts';
import { NO_TOKENS } from '../capture/usage.ts';
import { markPublished } from '../request-state.ts';
import { replayChatCompletionAsSse, type ReplayableCompletion } from './replay.ts';
import type { CachedResponse, ResponseCache } from './response-cache.ts';

export interface HitOptions {
  stream: boolean;
  /** The client's own stream_options.include_usage. */
  includeUsage: boolean;
}

function firstFinishReason(c: ReplayableCompletion): string {
  return c.choices[0]?.finish_reason ?? '';
}

export function serveCacheHit(
  env: EventEnv & { publish: (e: LlmCallEvent) => void },
  reply: FastifyReply,
  rec: CallRecord,
  hit: CachedResponse,
  o: HitOptions,
): void {
  const t = performance.now();
  const text = hit.body.toString('utf8');
  const completion = JSON.parse(text) as ReplayableCompletion;
  void reply.code(200).header('x-gatelog-cache', 'hit');
  if (o.stream) {
    void reply.header('content-type', 'text/event-stream').header('cache-control', 'no-cache');
    void reply.send(Buffer.concat(replayChatCompletionAsSse(completion, { includeUsage: o.includeUsage })));
  } else {
    void reply.header('content-type', hit.contentType).send(hit.body);
  }
  rec.tDispatch = t;
  rec.tUpstreamEnd = t;
  rec.tFirstByte = performance.now();
  rec.status = 200;
  rec.outcome = 'success';
  rec.cacheHit = true;
  rec.cacheSavedUsd = hit.costUsd ?? 0;
  rec.upstreamModel = hit.upstreamModel;
  rec.finishReason = firstFinishReason(completion);
  rec.tokens = { ...NO_TOKENS, input_tokens: hit.inputTokens, output_tokens: hit.outputTokens };
  rec.responseBody = text;
  if (!markPublished(reply.request)) return;
  try {
    const e = toEvent(rec, env, performance.now());
    e.attempts = [];
    env.publish(e);
  } catch {
    // Never fail a served hit because recording failed.
  }
}

/** Store a finished call's response if it is a complete, successful chat.completion. */
export function storeInCache(cache: ResponseCache, key: string, rec: CallRecord, e: LlmCallEvent, now: number): boolean {
  if (e.outcome !== 'success' || e.status !== 200 || rec.responseBody === '') return false;
  let parsed: unknown;
  try {
    parsed = JSON.parse(rec.responseBody);
  } catch {
    return false;
  }
  return cache.put(
    key,
    e.status,
    parsed,
    {
      body: Buffer.from(rec.responseBody),
      contentType: 'application/json',
      costUsd: e.cost_usd,
      inputTokens: e.input_tokens,
      outputTokens: e.output_tokens,
      provider: e.provider,
      upstreamModel: e.upstream_model,
      createdAt: now,
      origin: { user: e.user, key_id: e.key_id, trace_id: e.trace_id, team: e.team, started_at: e.started_at },
    },
    now,
  );
}
