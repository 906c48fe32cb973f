// Anthropic Messages upstream. `base_url` is what Anthropic's SDK takes (https://api.anthropic.com,
// no /v1). /v1/messages and count_tokens calls pass through byte for byte with the client's
// anthropic-version / anthropic-beta; OpenAI chat calls are translated both ways (stream
// included: anthropic-as-openai.ts) and answered in OpenAI's wire format.
import type { ProviderConfig } from '@gatelog/core';
import type { Provider, UpstreamCall, UpstreamResponse } from './types.ts';
import type { PoolFor } from './openai.ts';
import { KIND_PRESETS } from './presets.ts';
import { chatViaAnthropic } from './anthropic-as-openai.ts';
import { unsupportedApi } from './wire.ts';

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
    const wire = c.tap ? c.tap.sent(body) : body;
    const res = await pool.request({ method: 'POST', path, headers: h, body: wire, signal: c.signal });
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

  return {
    name,
    kind: cfg.kind,
    priceProviderId: KIND_PRESETS['anthropic']!.priceProviderId,
    models: cfg.models,
    async call(c: UpstreamCall): Promise<UpstreamResponse> {
      switch (c.api) {
        case 'anthropic.messages': return send(messagesPath, c.body, c, passthroughHeaders(c));
        case 'anthropic.count_tokens': return send(countPath, c.body, c, passthroughHeaders(c));
        case 'openai.chat': return chatViaAnthropic((request) => send(messagesPath, JSON.stringify(request), c, headers), c);
        default: throw unsupportedApi(c.api, 'Anthropic');
      }
    },
    async close(): Promise<void> {
      // The pool is shared per origin; its owner (the pool cache) closes it.
    },
  };
}
