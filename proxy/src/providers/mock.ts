// Built-in mock provider: no network, deterministic output in OpenAI's wire format.
// `latency_ms` simulates a whole call: non-stream answers after latency_ms; a stream sends
// its first byte after half of it and spreads the other half between the remaining chunks.
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ProviderConfig } from '@gatelog/core';
import type { Provider, UpstreamCall, UpstreamResponse } from './types.ts';
import { mockCompletion, mockEmbeddings, mockUsage, splitReply } from './mock-content.ts';
import { mockImageUpload, mockImages, mockModerations } from './mock-media.ts';
import { mockSpeech, mockTranscript, type MockAudioAnswer } from './mock-audio.ts';
import { anthropicViaChat } from './openai-as-anthropic.ts';
import { unsupportedApi } from './wire.ts';
import { mockFiles } from './mock-batches.ts';

const JSON_HEADERS = { 'content-type': 'application/json' };
const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' };

function streamChunks(c: UpstreamCall): Buffer[] {
  const m = mockCompletion(c.api, c.json);
  const created = Math.floor(Date.now() / 1000);
  const chat = c.api === 'openai.chat';
  const so = c.json['stream_options'];
  const includeUsage = !!so && typeof so === 'object' && (so as { include_usage?: unknown }).include_usage === true;
  const base = chat
    ? { id: m.id, object: 'chat.completion.chunk', created, model: c.model, system_fingerprint: null }
    : { id: m.id, object: 'text_completion', created, model: c.model, system_fingerprint: null };
  const usageNull = includeUsage ? { usage: null } : {};
  const frames: unknown[] = [];
  const choice = (delta: Record<string, unknown>, text: string, finish: string | null): Record<string, unknown> =>
    chat ? { index: 0, delta, logprobs: null, finish_reason: finish } : { index: 0, text, logprobs: null, finish_reason: finish };
  if (chat) frames.push({ ...base, choices: [choice({ role: 'assistant', content: '', refusal: null }, '', null)], ...usageNull });
  for (const piece of splitReply(m.reply)) frames.push({ ...base, choices: [choice({ content: piece }, piece, null)], ...usageNull });
  frames.push({ ...base, choices: [choice({}, '', 'stop')], ...usageNull });
  if (includeUsage) frames.push({ ...base, choices: [], usage: mockUsage(m.promptTokens, m.completionTokens) });
  const out = frames.map((f) => Buffer.from(`data: ${JSON.stringify(f)}\n\n`));
  out.push(Buffer.from('data: [DONE]\n\n'));
  return out;
}

/** A non-stream answer of chat, completions, embeddings, images or moderations (also a mock batch line's). */
export function nonStreamBody(c: Pick<UpstreamCall, 'api' | 'model' | 'json'>): string {
  if (c.api === 'openai.embeddings') return mockEmbeddings(c.model, c.json);
  if (c.api === 'openai.images') return mockImages(c.model, c.json);
  if (c.api === 'openai.images.edits' || c.api === 'openai.images.variations') return mockImageUpload(c.api, c.model, c.json);
  if (c.api === 'openai.moderations') return mockModerations(c.model, c.json);
  const m = mockCompletion(c.api, c.json);
  const created = Math.floor(Date.now() / 1000);
  const usage = mockUsage(m.promptTokens, m.completionTokens);
  if (c.api === 'openai.completions') {
    return JSON.stringify({
      id: m.id,
      object: 'text_completion',
      created,
      model: c.model,
      system_fingerprint: null,
      choices: [{ text: m.reply, index: 0, logprobs: null, finish_reason: 'stop' }],
      usage,
    });
  }
  return JSON.stringify({
    id: m.id,
    object: 'chat.completion',
    created,
    model: c.model,
    choices: [{ index: 0, message: { role: 'assistant', content: m.reply, refusal: null, annotations: [] }, logprobs: null, finish_reason: 'stop' }],
    usage,
    service_tier: 'default',
    system_fingerprint: null,
  });
}

function audioAnswer(c: UpstreamCall): MockAudioAnswer | null {
  if (c.api === 'openai.audio.transcriptions' || c.api === 'openai.audio.translations') return mockTranscript(c.api, c.model, c.json);
  if (c.api === 'openai.audio.speech') return mockSpeech(c.json);
  return null;
}

/** A readable that emits `chunks` with `gapMs` between them; destroying it cancels the rest. */
function paced(chunks: Buffer[], gapMs: number): Readable {
  let timer: NodeJS.Timeout | undefined;
  let i = 0;
  const r = new Readable({
    read() {
      if (timer) return;
      const next = (): void => {
        timer = undefined;
        if (i < chunks.length) r.push(chunks[i++]);
        if (i >= chunks.length) r.push(null);
      };
      if (i === 0 || gapMs <= 0) next();
      else timer = setTimeout(next, gapMs);
    },
    destroy(err, cb) {
      if (timer) clearTimeout(timer);
      cb(err);
    },
  });
  return r;
}

export function createMockProvider(name: string, cfg: ProviderConfig): Provider {
  const latency = cfg.latency_ms;
  // The mock's "wire" is in-process: the tap records the request and the bytes it produces.
  const answer = (c: UpstreamCall, headers: Record<string, string>, body: Readable): UpstreamResponse =>
    ({ status: 200, headers, body: c.tap ? c.tap.received(200, headers, body) : body });
  async function callOpenAi(c: UpstreamCall): Promise<UpstreamResponse> {
    c.tap?.sent(c.body);
    const audio = audioAnswer(c);
    if (audio) {
      if (latency > 0) await sleep(latency, undefined, { signal: c.signal });
      return answer(c, { 'content-type': audio.contentType }, paced([audio.body], 0));
    }
    if (c.stream && c.api !== 'openai.embeddings') {
      const chunks = streamChunks(c);
      if (latency > 0) await sleep(latency / 2, undefined, { signal: c.signal });
      return answer(c, SSE_HEADERS, paced(chunks, latency > 0 ? latency / 2 / Math.max(1, chunks.length - 1) : 0));
    }
    const body = Buffer.from(nonStreamBody(c));
    if (latency > 0) await sleep(latency, undefined, { signal: c.signal });
    return answer(c, JSON_HEADERS, paced([body], 0));
  }
  return {
    name,
    kind: 'mock',
    priceProviderId: undefined,
    models: cfg.models.length > 0 ? cfg.models : ['mock-chat', 'mock-embed'],
    files: mockFiles(nonStreamBody),
    call(c: UpstreamCall): Promise<UpstreamResponse> {
      // Anthropic clients reach the mock through the same translation real OpenAI upstreams get.
      if (c.api === 'anthropic.messages' || c.api === 'anthropic.count_tokens') return anthropicViaChat(callOpenAi, c, 'max_tokens');
      if (c.api === 'openai.responses') return Promise.reject(unsupportedApi(c.api, 'mock'));
      return callOpenAi(c);
    },
    async close(): Promise<void> {},
  };
}
