// Claude on Google Vertex AI. An Anthropic Messages call goes to
// …/publishers/anthropic/models/{model}:rawPredict (or :streamRawPredict) with the Messages body
// minus `model`, plus `anthropic_version: vertex-2023-10-16`; the answer is Anthropic's own
// (JSON or SSE) and passes through. Google's error bodies become Anthropic's, status kept.
// Authenticated as a service account, from its key file or the GCE/GKE metadata server
// (google-auth.ts); a 401 renews the token and is tried once more. OpenAI chat calls are translated on top (anthropic-as-openai.ts); count_tokens goes to
// Vertex's count-tokens:rawPredict. https://docs.anthropic.com/en/api/claude-on-vertex-ai
import { Readable } from 'node:stream';
import type { IncomingHttpHeaders } from 'node:http';
import type { ProviderConfig } from '@gatelog/core';
import { anthropicTypeForStatus } from '../translate/index.ts';
import { isObject } from '../translate/guards.ts';
import type { Provider, UpstreamCall, UpstreamResponse } from './types.ts';
import type { PoolFor } from './openai.ts';
import { KIND_PRESETS } from './presets.ts';
import { chatViaAnthropic } from './anthropic-as-openai.ts';
import { metadataServer, readServiceAccount, serviceAccountTokens, type AccessTokens } from './google-auth.ts';
import { TokenError, anthropicAuthFailure, sendWithToken } from './upstream-auth.ts';
import { betaFilter } from './cloud-betas.ts';
import { anthropicErrorJson, parseJson, readAll, unsupportedApi } from './wire.ts';

export const VERTEX_ANTHROPIC_VERSION = 'vertex-2023-10-16';

/** The body rawPredict takes for a Messages request (`json` is the client's, model already rewritten). */
export function rawPredictBody(json: Readonly<Record<string, unknown>>): string {
  const { model: _model, anthropic_version: _version, ...rest } = json;
  return JSON.stringify({ anthropic_version: VERTEX_ANTHROPIC_VERSION, ...rest });
}

/** Google's error (`{"error":{"code","message","status"}}`, sometimes in an array) as Anthropic's; Anthropic's own as it is. */
export function vertexErrorJson(status: number, raw: Buffer): string {
  const v = parseJson(raw);
  if (isObject(v) && v['type'] === 'error' && isObject(v['error'])) return raw.toString('utf8');
  const g = Array.isArray(v) ? (v[0] as unknown) : v;
  const m = isObject(g) && isObject(g['error']) ? g['error']['message'] : undefined;
  return anthropicErrorJson({ type: anthropicTypeForStatus(status), message: typeof m === 'string' ? m : raw.toString('utf8').slice(0, 2000) || `upstream error (status ${status})` });
}

const JSON_HEADERS = { 'content-type': 'application/json' };

/** Where tokens come from and which project is named: the key file, else the metadata server. */
function googleIdentity(name: string, cfg: ProviderConfig, poolFor: PoolFor): { tokens: AccessTokens; project: string | (() => Promise<string>) } {
  if (cfg.credentials_file) {
    const sa = readServiceAccount(name, cfg.credentials_file);
    const project = cfg.project ?? sa.project_id;
    if (!project) throw new Error(`provider ${name}: project is required (the key file names none)`);
    return { tokens: serviceAccountTokens(sa, poolFor), project };
  }
  // The config loader has already set the host when there is no key file (cloud-credentials.ts).
  const metadata = metadataServer(name, cfg.metadata_host ?? 'metadata.google.internal', poolFor);
  return { tokens: metadata.tokens, project: cfg.project ?? (() => metadata.project()) };
}

export function createVertexProvider(name: string, cfg: ProviderConfig, poolFor: PoolFor): Provider {
  // The config loader has already required it (cloud-credentials.ts).
  if (!cfg.region) throw new Error(`provider ${name}: region is required`);
  const region = cfg.region;
  const { tokens, project } = googleIdentity(name, cfg, poolFor);
  const url = new URL(cfg.base_url ?? (region === 'global' ? 'https://aiplatform.googleapis.com' : `https://${region}-aiplatform.googleapis.com`));
  const basePath = url.pathname.replace(/\/+$/, '');
  const extra: Record<string, string> = {};
  for (const [k, v] of Object.entries(cfg.headers)) extra[k.toLowerCase()] = v;
  const pool = poolFor(url.origin, cfg.connections);
  const betas = betaFilter(cfg);
  const modelsPathOf = (p: string): string => `${basePath}/v1/projects/${encodeURIComponent(p)}/locations/${encodeURIComponent(region)}/publishers/anthropic/models`;
  // Known from the start unless the metadata server is to name the project (asked at the first call).
  let modelsPath = typeof project === 'string' ? modelsPathOf(project) : undefined;
  // Vertex model ids carry their version after '@' (claude-sonnet-4@20250514), written as is.
  const modelPath = (models: string, model: string, method: string): string => `${models}/${encodeURIComponent(model).replace(/%40/g, '@')}:${method}`;

  /** POST with a current token; a 401 (the token was revoked or expired early) renews it and tries once more. */
  async function post(model: string, method: string, body: string, c: UpstreamCall): Promise<UpstreamResponse> {
    c.tap?.sent(body);
    const beta = betas(c.headers?.['anthropic-beta']).join(',');
    let res;
    try {
      modelsPath ??= typeof project === 'string' ? modelsPathOf(project) : modelsPathOf(await project());
      const path = modelPath(modelsPath, model, method);
      res = await sendWithToken(tokens, (token) => {
        const headers = { ...extra, ...JSON_HEADERS, authorization: `Bearer ${token}`, ...(beta !== '' ? { 'anthropic-beta': beta } : {}) };
        return pool.request({ method: 'POST', path, headers, body, signal: c.signal });
      });
    } catch (err) {
      if (!(err instanceof TokenError)) throw err;
      return anthropicAuthFailure(err);
    }
    const read = c.tap ? c.tap.received(res.statusCode, res.headers, res.body) : res.body;
    if (res.statusCode < 400) return { status: res.statusCode, headers: res.headers, body: read };
    const h: IncomingHttpHeaders = { ...JSON_HEADERS };
    const retryAfter = res.headers['retry-after'];
    if (typeof retryAfter === 'string') h['retry-after'] = retryAfter;
    return { status: res.statusCode, headers: h, body: Readable.from([Buffer.from(vertexErrorJson(res.statusCode, await readAll(read)))]) };
  }

  const messages = (json: Readonly<Record<string, unknown>>, c: UpstreamCall): Promise<UpstreamResponse> =>
    post(c.model, c.stream ? 'streamRawPredict' : 'rawPredict', rawPredictBody(json), c);

  return {
    name,
    kind: cfg.kind,
    priceProviderId: KIND_PRESETS['vertex']!.priceProviderId,
    models: cfg.models,
    async call(c: UpstreamCall): Promise<UpstreamResponse> {
      switch (c.api) {
        case 'anthropic.messages': return messages(c.json, c);
        // Vertex counts with the Messages body as Anthropic's count_tokens takes it, model included.
        case 'anthropic.count_tokens': return post('count-tokens', 'rawPredict', c.body.toString(), c);
        case 'openai.chat': return chatViaAnthropic((request) => messages(request, c), c);
        default: throw unsupportedApi(c.api, 'Vertex AI');
      }
    },
    async close(): Promise<void> {
      // The pools are shared per origin; their owner (the pool cache) closes them.
    },
  };
}
