// Anthropic Messages upstream. `base_url` is what Anthropic's SDK takes (https://api.anthropic.com,
// no /v1). /v1/messages and count_tokens calls pass through byte for byte with the client's
// anthropic-version / anthropic-beta; OpenAI chat calls are translated both ways (stream
// included) and answered in OpenAI's wire format, errors with a status routing can retry on.
import type { ProviderConfig } from '@gatelog/core';
import {
  AnthropicToOpenAIStream, anthropicErrorToOpenAI, anthropicToOpenAIResponse, isTranslateError, normalizeAnthropicUsage,
  openaiToAnthropicRequest, translateErrorToOpenAI, wantsStreamUsage,
} from '../translate/index.ts';
import { isObject } from '../translate/guards.ts';
import type { Provider, UpstreamCall, UpstreamResponse } from './types.ts';
import type { PoolFor } from './openai.ts';
import { KIND_PRESETS } from './presets.ts';
import { SSE_HEADERS, isEventStream, jsonResponse, parseJson, readAll, refuse, tokensFromNormalized, translatedStream, unsupportedApi } from './wire.ts';

/** The API version the translated path speaks; passthrough uses the client's own. */
export const ANTHROPIC_VERSION = '2023-06-01';
const UPSTREAM = { upstreamApi: 'anthropic.messages' } as const;

export function createAnthropicProvider(name: string, cfg: ProviderConfig, poolFor: PoolFor): Provider {
  const base = cfg.base_url ?? KIND_PRESETS['anthropic']!.baseUrl!;
  const url = new URL(base);
  const basePath = url.pathname.replace(/\/+$/, '');
  const messagesPath = `${basePath}/v1/messages`;
  const countPath = `${basePath}/v1/messages/count_tokens`;
  const headers: Record<string, string> = { 'content-type': 'application/json', 'anthropic-version': ANTHROPIC_VERSION };
  for (const [k, v] of Object.entries(cfg.headers)) headers[k.toLowerCase()] = v;
  if (cfg.api_key) headers['x-api-key'] = cfg.api_key;
  const pool = poolFor(url.origin, cfg.connections);

  const send = async (path: string, body: Buffer | string, c: UpstreamCall, h: Record<string, string>): Promise<UpstreamResponse> => {
    c.tap?.sent(body);
    const res = await pool.request({ method: 'POST', path, headers: h, body, signal: c.signal });
    return { status: res.statusCode, headers: res.headers, body: c.tap ? c.tap.received(res.statusCode, res.headers, res.body) : res.body, ...UPSTREAM };
  };

  /** Client headers Anthropic understands, over ours; the client's credentials never among them. */
  const passthroughHeaders = (c: UpstreamCall): Record<string, string> => {
    const version = c.headers?.['anthropic-version'];
    const beta = c.headers?.['anthropic-beta'];
    if (version === undefined && beta === undefined) return headers;
    const h = { ...headers };
    if (version !== undefined) h['anthropic-version'] = version;
    if (beta !== undefined) h['anthropic-beta'] = beta;
    return h;
  };

  async function chat(c: UpstreamCall): Promise<UpstreamResponse> {
    let request;
    try {
      request = openaiToAnthropicRequest(c.json, { model: c.model }).request;
    } catch (err) {
      refuse(err);
    }
    const up = await send(messagesPath, JSON.stringify(request), c, headers);
    if (up.status >= 400) {
      const mapped = anthropicErrorToOpenAI(up.status, await readAll(up.body));
      const res = jsonResponse(mapped.status, mapped.body, UPSTREAM);
      const retryAfter = up.headers['retry-after'];
      if (retryAfter !== undefined) res.headers['retry-after'] = retryAfter;
      return res;
    }
    const created = Math.floor(Date.now() / 1000);
    if (c.stream && isEventStream(up.headers['content-type'])) {
      const t = new AnthropicToOpenAIStream({ includeUsage: wantsStreamUsage(c.json), created });
      return {
        status: up.status,
        headers: { ...SSE_HEADERS },
        body: translatedStream(up.body, (b) => t.push(b), () => t.end()),
        ...UPSTREAM,
        tokens: () => {
          const r = t.result();
          return r.usageMissing ? null : tokensFromNormalized(r.usage);
        },
      };
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

  return {
    name,
    kind: cfg.kind,
    priceProviderId: KIND_PRESETS['anthropic']!.priceProviderId,
    models: cfg.models,
    async call(c: UpstreamCall): Promise<UpstreamResponse> {
      switch (c.api) {
        case 'anthropic.messages': return send(messagesPath, c.body, c, passthroughHeaders(c));
        case 'anthropic.count_tokens': return send(countPath, c.body, c, passthroughHeaders(c));
        case 'openai.chat': return chat(c);
        default: throw unsupportedApi(c.api, 'Anthropic');
      }
    },
    async close(): Promise<void> {
      // The pool is shared per origin; its owner (the pool cache) closes it.
    },
  };
}
