// Anthropic Messages ingress for any upstream that speaks OpenAI chat (OpenAI, Azure, the
// compatible presets, the mock): the request is translated to chat, the answer (JSON, SSE or
// error) back to Anthropic's wire format. count_tokens has no OpenAI counterpart: it is
// estimated locally with gpt-tokenizer and flagged by `x-gatelog-tokens-estimated: true`.
import {
  OpenAIToAnthropicStream, anthropicToOpenAIRequest, normalizeOpenAIUsage, openaiErrorToAnthropic, openaiToAnthropicResponse,
  translateErrorToAnthropic, isTranslateError,
} from '../translate/index.ts';
import { isObject } from '../translate/guards.ts';
import { estimatePromptTokens } from '../capture/usage.ts';
import type { UpstreamCall, UpstreamResponse } from './types.ts';
import { isEventStream, jsonResponse, parseJson, readAll, refuse, tokensFromNormalized, translatedSse } from './wire.ts';

export type ChatCall = (c: UpstreamCall) => Promise<UpstreamResponse>;

const UPSTREAM = { upstreamApi: 'openai.chat' } as const;

async function countTokens(c: UpstreamCall): Promise<UpstreamResponse> {
  const json = c.json as Record<string, unknown>;
  let n = await estimatePromptTokens(json);
  // Tool definitions count toward the prompt too.
  if (json['tools'] !== undefined) n += await estimatePromptTokens({ input: JSON.stringify(json['tools']) });
  const res = jsonResponse(200, { input_tokens: n }, { upstreamApi: 'gatelog.estimate' });
  res.headers['x-gatelog-tokens-estimated'] = 'true';
  return res;
}

export async function anthropicViaChat(chat: ChatCall, c: UpstreamCall, maxTokensField: 'max_tokens' | 'max_completion_tokens'): Promise<UpstreamResponse> {
  if (c.api === 'anthropic.count_tokens') return countTokens(c);
  let request;
  try {
    request = anthropicToOpenAIRequest(c.json, { model: c.model, maxTokensField }).request;
  } catch (err) {
    refuse(err);
  }
  const up = await chat({ api: 'openai.chat', model: c.model, body: JSON.stringify(request), json: request as unknown as Record<string, unknown>, stream: c.stream, signal: c.signal, tap: c.tap });
  if (up.status >= 400) {
    const mapped = openaiErrorToAnthropic(up.status, await readAll(up.body));
    return jsonResponse(mapped.status, mapped.body, UPSTREAM);
  }
  if (c.stream && isEventStream(up.headers['content-type'])) return translatedSse(up, new OpenAIToAnthropicStream(), UPSTREAM.upstreamApi);
  const raw = parseJson(await readAll(up.body));
  try {
    const out = openaiToAnthropicResponse(raw);
    const hasUsage = isObject(raw) && isObject(raw['usage']);
    return jsonResponse(up.status, out.body, { ...UPSTREAM, tokens: () => (hasUsage ? tokensFromNormalized(normalizeOpenAIUsage((raw as Record<string, unknown>)['usage'])) : null) });
  } catch (err) {
    if (!isTranslateError(err)) throw err;
    const e = translateErrorToAnthropic(err);
    return jsonResponse(e.status, e.body, UPSTREAM);
  }
}
