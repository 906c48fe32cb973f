// The OpenAI chat.completion.chunk frames every translator into OpenAI's stream writes, and the
// event loop they share: each upstream event's JSON handed on until the stream is over, a
// non-object ending it with OpenAI's in-stream error.
import type { OpenAIChatCompletionChunk, OpenAIChunkDelta, OpenAIErrorBody, OpenAIFinishReason, OpenAIUsage } from './types-openai.ts';
import { isObject, tryParseJson, type Json } from './guards.ts';
import { sseFrame, type SseEvent } from './sse.ts';

export interface ChunkMeta {
  id: string;
  created: number;
  model: string;
  /** The client's stream_options.include_usage: every chunk carries `usage: null`. */
  includeUsage: boolean;
}

/** One chunk with `delta` for choice 0. */
export function chunkFrame(m: ChunkMeta, delta: OpenAIChunkDelta, finish: OpenAIFinishReason | null = null): string {
  const c: OpenAIChatCompletionChunk = { id: m.id, object: 'chat.completion.chunk', created: m.created, model: m.model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] };
  if (m.includeUsage) c.usage = null;
  return sseFrame(JSON.stringify(c));
}

/** The final usage chunk (no choices), then [DONE]. */
export function usageFrame(m: ChunkMeta, usage: OpenAIUsage): string {
  const c: OpenAIChatCompletionChunk = { id: m.id, object: 'chat.completion.chunk', created: m.created, model: m.model, choices: [], usage };
  return sseFrame(JSON.stringify(c));
}

const MALFORMED: OpenAIErrorBody = { error: { message: 'malformed upstream stream event', type: 'server_error', param: null, code: 'invalid_upstream_response' } };

/** Hands each event's JSON object to `on` while `over()` is false; a malformed one ends the stream through `fail`. */
export function eachEvent(events: readonly SseEvent[], over: () => boolean, on: (data: Json, ev: SseEvent) => string, fail: (body: OpenAIErrorBody) => string): Buffer {
  let out = '';
  for (const ev of events) {
    if (over()) break; // nothing after the end is forwarded
    const data = tryParseJson(ev.data);
    if (!isObject(data)) {
      out += fail(MALFORMED);
      break;
    }
    out += on(data, ev);
  }
  return Buffer.from(out);
}
