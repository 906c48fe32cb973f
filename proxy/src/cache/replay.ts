// Replays a cached chat.completion as the OpenAI SSE stream a client would have received:
// per choice a role chunk, the reasoning/refusal/content deltas, one delta per tool call,
// a finish chunk; then (with stream_options.include_usage) the usage chunk with no choices,
// and `data: [DONE]`. Pure: returns the frames, the caller writes them.
// https://platform.openai.com/docs/api-reference/chat-streaming

interface ToolCall {
  id: string;
  type: string;
  function: { name: string; arguments: string };
}

interface Choice {
  index: number;
  message: {
    role?: string;
    content?: string | null;
    refusal?: string | null;
    reasoning_content?: string | null;
    tool_calls?: ToolCall[] | undefined;
  };
  logprobs?: unknown;
  finish_reason: string | null;
}

export interface ReplayableCompletion {
  id: string;
  object?: string;
  created: number;
  model: string;
  system_fingerprint?: string | null;
  service_tier?: string | null;
  choices: Choice[];
  usage?: Record<string, unknown> | null;
}

export interface ReplayOptions {
  /** `stream_options.include_usage` of the replayed request. */
  includeUsage: boolean;
  /** Split content into deltas of at most this many characters (0 = one delta). */
  contentChunkChars?: number;
  /** Override id/created (e.g. a fresh id per hit); defaults to the cached ones. */
  id?: string;
  created?: number;
}

function frame(obj: unknown): Buffer {
  return Buffer.from(`data: ${JSON.stringify(obj)}\n\n`);
}

function split(s: string, size: number): string[] {
  if (size <= 0 || s.length <= size) return [s];
  const out: string[] = [];
  // Split on code points so a surrogate pair is never cut in half.
  const cps = Array.from(s);
  for (let i = 0; i < cps.length; i += size) out.push(cps.slice(i, i + size).join(''));
  return out;
}

export function replayChatCompletionAsSse(c: ReplayableCompletion, o: ReplayOptions): Buffer[] {
  const base: Record<string, unknown> = {
    id: o.id ?? c.id,
    object: 'chat.completion.chunk',
    created: o.created ?? c.created,
    model: c.model,
  };
  if (c.service_tier != null) base['service_tier'] = c.service_tier;
  if (c.system_fingerprint != null) base['system_fingerprint'] = c.system_fingerprint;
  const chunk = (choice: Record<string, unknown>): Buffer =>
    frame({ ...base, choices: [{ logprobs: null, finish_reason: null, ...choice }], ...(o.includeUsage ? { usage: null } : {}) });

  const frames: Buffer[] = [];
  for (const ch of c.choices) {
    const m = ch.message;
    frames.push(chunk({ index: ch.index, delta: { role: m.role ?? 'assistant', content: '', refusal: null } }));
    if (m.reasoning_content) {
      for (const part of split(m.reasoning_content, o.contentChunkChars ?? 0)) frames.push(chunk({ index: ch.index, delta: { reasoning_content: part } }));
    }
    if (m.refusal) frames.push(chunk({ index: ch.index, delta: { refusal: m.refusal } }));
    if (typeof m.content === 'string' && m.content !== '') {
      for (const part of split(m.content, o.contentChunkChars ?? 0)) frames.push(chunk({ index: ch.index, delta: { content: part } }));
    }
    (m.tool_calls ?? []).forEach((tc, i) => {
      frames.push(
        chunk({
          index: ch.index,
          delta: { tool_calls: [{ index: i, id: tc.id, type: tc.type, function: { name: tc.function.name, arguments: tc.function.arguments } }] },
        }),
      );
    });
    frames.push(chunk({ index: ch.index, delta: {}, finish_reason: ch.finish_reason ?? 'stop' }));
  }
  if (o.includeUsage && c.usage) frames.push(frame({ ...base, choices: [], usage: c.usage }));
  frames.push(Buffer.from('data: [DONE]\n\n'));
  return frames;
}
