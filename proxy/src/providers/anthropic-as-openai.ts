// OpenAI chat ingress for any upstream that speaks Anthropic Messages (Anthropic's own API,
// Claude on Bedrock): the request is translated to a Messages request, the answer (JSON, SSE or
// error) back to OpenAI's wire format, errors with a status routing can retry on. The mirror
// of openai-as-anthropic.ts.
import {
  AnthropicToOpenAIStream, anthropicErrorToOpenAI, anthropicToOpenAIResponse, isTranslateError, normalizeAnthropicUsage,
  openaiToAnthropicRequest, translateErrorToOpenAI, wantsStreamUsage,
} from '../translate/index.ts';
import { isObject } from '../translate/guards.ts';
import type { UpstreamCall, UpstreamResponse } from './types.ts';
import { isEventStream, jsonResponse, parseJson, readAll, refuse, tokensFromNormalized, translatedSse } from './wire.ts';

/** Sends one Anthropic Messages request (the object, `model` and `stream` set) and answers in Anthropic's wire format. */
export type MessagesCall = (request: Record<string, unknown>) => Promise<UpstreamResponse>;

const UPSTREAM = { upstreamApi: 'anthropic.messages' } as const;

export async function chatViaAnthropic(messages: MessagesCall, c: UpstreamCall): Promise<UpstreamResponse> {
  let request;
  try {
    request = openaiToAnthropicRequest(c.json, { model: c.model }).request;
  } catch (err) {
    refuse(err);
  }
  const up = await messages(request as unknown as Record<string, unknown>);
  if (up.status >= 400) {
    const mapped = anthropicErrorToOpenAI(up.status, await readAll(up.body));
    const res = jsonResponse(mapped.status, mapped.body, UPSTREAM);
    const retryAfter = up.headers['retry-after'];
    if (retryAfter !== undefined) res.headers['retry-after'] = retryAfter;
    return res;
  }
  const created = Math.floor(Date.now() / 1000);
  if (c.stream && isEventStream(up.headers['content-type'])) {
    return translatedSse(up, new AnthropicToOpenAIStream({ includeUsage: wantsStreamUsage(c.json), created }), UPSTREAM.upstreamApi);
  }
  const raw = parseJson(await readAll(up.body));
  try {
    const out = anthropicToOpenAIResponse(raw, { created });
    const usage = isObject(raw) && isObject(raw['usage']) ? raw['usage'] : undefined;
    return jsonResponse(up.status, out.body, { ...UPSTREAM, tokens: () => (usage ? tokensFromNormalized(normalizeAnthropicUsage(usage)) : null) });
  } catch (err) {
    if (!isTranslateError(err)) throw err;
    const e = translateErrorToOpenAI(err);
    return jsonResponse(e.status, e.body, UPSTREAM);
  }
}
