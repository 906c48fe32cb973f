// OpenAI-compatible upstreams: a keep-alive undici Pool per origin (shared between providers), requests sent with the
// provider's key and configured headers only (nothing from the client's headers).
import { Readable } from 'node:stream';
import { Pool } from 'undici';
import type { ProviderConfig } from '@gatelog/core';
import type { Provider, UpstreamApi, UpstreamCall, UpstreamResponse } from './types.ts';
import { KIND_PRESETS, priceIdFor, type OpenAiExtraApi } from './presets.ts';
import { anthropicViaChat } from './openai-as-anthropic.ts';
import { unsupportedApi } from './wire.ts';
import { entraTokens } from './entra-auth.ts';
import { TokenError, sendWithToken, type AccessTokens } from './upstream-auth.ts';
import { openAiFiles } from './openai-files.ts';

const ENDPOINTS: Partial<Record<UpstreamApi, string>> = {
  'openai.chat': '/chat/completions',
  'openai.completions': '/completions',
  'openai.embeddings': '/embeddings',
  'openai.responses': '/responses',
};

/** Paths of the endpoints only some kinds serve (presets.ts `extras`). */
const EXTRA_ENDPOINTS: Readonly<Record<OpenAiExtraApi, string>> = {
  'openai.images': '/images/generations',
  'openai.images.edits': '/images/edits',
  'openai.images.variations': '/images/variations',
  'openai.moderations': '/moderations',
  'openai.audio.transcriptions': '/audio/transcriptions',
  'openai.audio.translations': '/audio/translations',
  'openai.audio.speech': '/audio/speech',
};

/** One keep-alive Pool per upstream origin, shared by every provider that points there. */
export type PoolFor = (origin: string, connections: number) => Pool;

/** `connectTimeoutMs`: TCP/TLS connect limit per upstream connection (router.timeouts.connect_ms). */
export function createPoolCache(connectTimeoutMs = 10_000): { poolFor: PoolFor; close(): Promise<void> } {
  const pools = new Map<string, Pool>();
  return {
    poolFor(origin, connections) {
      let pool = pools.get(origin);
      if (!pool) {
        // Timeouts stay generous: a long completion can take minutes before its first byte.
        // (Per-call time-to-first-byte, idle and total limits are the relay's: routing/attempt.ts.)
        pool = new Pool(origin, { connections, keepAliveTimeout: 10_000, headersTimeout: 600_000, bodyTimeout: 600_000, connect: { timeout: connectTimeoutMs } });
        pools.set(origin, pool);
      }
      return pool;
    },
    async close() {
      await Promise.all([...pools.values()].map((p) => p.close()));
      pools.clear();
    },
  };
}

/** Azure's GA data-plane version when the config names none. */
export const AZURE_DEFAULT_API_VERSION = '2024-10-21';

/** A credential failure as OpenAI's error answer (translated on top for Anthropic clients). */
function openAiAuthFailure(err: TokenError): UpstreamResponse {
  const body = JSON.stringify({ error: { message: err.message, type: err.status >= 500 ? 'upstream_error' : 'authentication_error', param: null, code: 'upstream_auth' } });
  return { status: err.status, headers: { 'content-type': 'application/json' }, body: Readable.from([Buffer.from(body)]) };
}

/**
 * OpenAI-compatible upstreams: `openai`, the presets (groq, gemini, ...: a row in KIND_PRESETS
 * supplies base_url and price id) and `azure` (deployment URLs, `api-version`, `api-key`, or
 * with `auth: entra` a Microsoft Entra ID token as Bearer, renewed once on a 401).
 * Anthropic-shaped calls are translated to chat (openai-as-anthropic.ts).
 */
export function createOpenAiProvider(name: string, cfg: ProviderConfig, poolFor: PoolFor): Provider {
  const preset = KIND_PRESETS[cfg.kind] ?? KIND_PRESETS['openai']!;
  const base = cfg.base_url ?? preset.baseUrl;
  if (!base) throw new Error(`provider ${name}: base_url is required`);
  const url = new URL(base);
  const basePath = url.pathname.replace(/\/+$/, '');
  const azure = preset.adapter === 'azure';
  const query = azure ? `?api-version=${encodeURIComponent(cfg.api_version ?? AZURE_DEFAULT_API_VERSION)}` : '';
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  for (const [k, v] of Object.entries(cfg.headers)) headers[k.toLowerCase()] = v;
  if (cfg.api_key) {
    if (azure) headers['api-key'] = cfg.api_key;
    else headers['authorization'] = `Bearer ${cfg.api_key}`;
  }
  const pool = poolFor(url.origin, cfg.connections);
  // This kind's endpoints, fixed once here: a call looks its path up as before, nothing more.
  const endpoints: Partial<Record<UpstreamApi, string>> = { ...ENDPOINTS };
  for (const api of preset.extras ?? []) endpoints[api] = EXTRA_ENDPOINTS[api];

  // Azure names the deployment in the path (the body's `model` is ignored there); the Responses
  // API is not per deployment.
  const pathFor = (api: UpstreamApi, model: string): string => {
    const ep = endpoints[api];
    if (ep === undefined) throw unsupportedApi(api, cfg.kind);
    if (!azure) return basePath + ep;
    if (api === 'openai.responses') return `${basePath}/openai${ep}${query}`;
    return `${basePath}/openai/deployments/${encodeURIComponent(model)}${ep}${query}`;
  };

  const tokens: AccessTokens | null = azure && cfg.auth === 'entra' ? entraTokens(name, cfg, poolFor) : null;

  /** With an Entra ID token (renewed once on a 401). */
  const withToken = async (c: UpstreamCall, path: string, h: Record<string, string>, t: AccessTokens, body: Buffer | string): Promise<UpstreamResponse> => {
    let res;
    try {
      res = await sendWithToken(t, (token) => pool.request({ method: 'POST', path, headers: { ...h, authorization: `Bearer ${token}` }, body, signal: c.signal }));
    } catch (err) {
      if (err instanceof TokenError) return openAiAuthFailure(err);
      throw err;
    }
    return { status: res.statusCode, headers: res.headers, body: c.tap ? c.tap.received(res.statusCode, res.headers, res.body) : res.body };
  };

  const chat = async (c: UpstreamCall): Promise<UpstreamResponse> => {
    const path = pathFor(c.api, c.model);
    const body = c.tap ? c.tap.sent(c.body) : c.body;
    // An upload keeps the client's own content type (its multipart boundary).
    const h = c.contentType === undefined ? headers : { ...headers, 'content-type': c.contentType };
    if (tokens) return withToken(c, path, h, tokens, body);
    const res = await pool.request({ method: 'POST', path, headers: h, body, signal: c.signal });
    return { status: res.statusCode, headers: res.headers, body: c.tap ? c.tap.received(res.statusCode, res.headers, res.body) : res.body };
  };

  const files = preset.batches ? openAiFiles({ pool, basePath, azureApiVersion: azure ? (cfg.api_version ?? AZURE_DEFAULT_API_VERSION) : undefined, headers, tokens }) : undefined;

  return {
    name,
    kind: cfg.kind,
    priceProviderId: priceIdFor(cfg.kind, url),
    models: cfg.models,
    files,
    call(c: UpstreamCall): Promise<UpstreamResponse> {
      if (c.api === 'anthropic.messages' || c.api === 'anthropic.count_tokens') return anthropicViaChat(chat, c, preset.maxTokensField);
      return chat(c);
    },
    async close(): Promise<void> {
      // The pool is shared per origin; its owner (the pool cache) closes it.
    },
  };
}
