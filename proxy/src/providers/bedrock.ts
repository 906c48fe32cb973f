// Claude on AWS Bedrock through InvokeModel. An Anthropic Messages call goes to
// /model/{id}/invoke (or /invoke-with-response-stream) with Bedrock's body: the Messages body
// without `model` and `stream`, plus `anthropic_version` and the client's `anthropic-beta`
// values Bedrock serves (cloud-betas.ts) as `anthropic_beta`. The answer leaves in Anthropic's wire format: JSON as Bedrock sent
// it, a stream re-framed from AWS eventstream to SSE (bedrock-stream.ts), errors (HTTP ones and
// exceptions in the stream) as Anthropic error bodies with a status routing can retry on.
// OpenAI chat calls are translated on top (anthropic-as-openai.ts). count_tokens uses Bedrock's
// CountTokens. https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-anthropic-claude-messages.html
// Any other model goes through Converse (bedrock-converse.ts), signed and mapped the same way.
import { Readable } from 'node:stream';
import type { IncomingHttpHeaders } from 'node:http';
import type { ProviderConfig } from '@gatelog/core';
import { readThrough } from '../capture/link.ts';
import { anthropicTypeForStatus } from '../translate/index.ts';
import { isObject } from '../translate/guards.ts';
import type { Provider, UpstreamCall, UpstreamResponse } from './types.ts';
import type { PoolFor } from './openai.ts';
import { KIND_PRESETS } from './presets.ts';
import { chatViaAnthropic } from './anthropic-as-openai.ts';
import { anthropicViaChat } from './openai-as-anthropic.ts';
import { chatViaConverse, converseErrorJson } from './bedrock-converse.ts';
import { bedrockAuth } from './bedrock-auth.ts';
import { TokenError, anthropicAuthFailure } from './upstream-auth.ts';
import { REDACTED } from './scrub.ts';
import { betaFilter } from './cloud-betas.ts';
import { BedrockEventStreamToSse, FramingError, bedrockError, bedrockMessage, type BedrockError, type BedrockStreamApi } from './bedrock-stream.ts';
import { SSE_HEADERS, anthropicErrorJson, jsonResponse, parseJson, readAll, translatedStream, unsupportedApi } from './wire.ts';

/** Bedrock's answer to one POST, with the session token it was signed with (if any). */
interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Readable;
  token?: string | undefined;
}
type Sent = Answer | { failed: TokenError };
/** A Bedrock failure as the client API's error body. */
type ErrorShape = (e: BedrockError) => string;

export const BEDROCK_ANTHROPIC_VERSION = 'bedrock-2023-05-31';
const EVENTSTREAM = 'application/vnd.amazon.eventstream';
const JSON_TYPE = 'application/json';

/** The body InvokeModel takes for a Messages request (`json` is the client's, model already rewritten). */
export function invokeBody(json: Readonly<Record<string, unknown>>, betas: readonly string[]): string {
  const { model: _model, stream: _stream, anthropic_version: _version, ...rest } = json;
  return JSON.stringify({ anthropic_version: BEDROCK_ANTHROPIC_VERSION, ...rest, ...(betas.length > 0 ? { anthropic_beta: betas } : {}) });
}

/**
 * Claude on Bedrock (its id, after an inference profile's geography prefix, starts `anthropic.`;
 * an ARN is read after its last `/`) is served by InvokeModel with Anthropic's own body; every
 * other model (Nova, Llama, Mistral, …) by Converse.
 */
export const isAnthropicModel = (id: string): boolean => /^(?:(?:us|eu|apac|jp|au|ca|us-gov|global)\.)?anthropic\./.test(id.slice(id.lastIndexOf('/') + 1));

/** CountTokens names a foundation model: an inference profile's geography prefix (us., eu., global., …) is dropped. */
export const foundationModel = (id: string): string => id.replace(/^(?:us|eu|apac|jp|au|ca|us-gov|global)\.(?=anthropic\.)/, '');

/**
 * The first SSE bytes of `s`, put back so its reader sees them first (null: it ended empty).
 * `s` is left paused: whoever reads it next resumes it.
 */
function peek(s: Readable): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const off = (): void => {
      s.off('data', onData);
      s.off('end', onEnd);
      s.off('error', onError);
    };
    const onData = (chunk: Buffer): void => {
      off();
      s.pause();
      s.unshift(chunk);
      resolve(chunk);
    };
    const onEnd = (): void => {
      off();
      resolve(null);
    };
    const onError = (err: unknown): void => {
      off();
      reject(err instanceof Error ? err : new Error(String(err)));
    };
    s.on('data', onData);
    s.once('end', onEnd);
    s.once('error', onError);
  });
}

export function createBedrockProvider(name: string, cfg: ProviderConfig, poolFor: PoolFor): Provider {
  const url = new URL(cfg.base_url ?? `https://bedrock-runtime.${cfg.region ?? ''}.amazonaws.com`);
  const basePath = url.pathname.replace(/\/+$/, '');
  const auth = bedrockAuth(name, cfg, url);
  const betas = betaFilter(cfg);
  const extra: Record<string, string> = {};
  for (const [k, v] of Object.entries(cfg.headers)) extra[k.toLowerCase()] = v;
  const jsonHeaders = { ...extra, 'content-type': JSON_TYPE, accept: JSON_TYPE };
  const streamHeaders = { ...extra, 'content-type': JSON_TYPE, accept: EVENTSTREAM };
  const pool = poolFor(url.origin, cfg.connections);
  const modelPath = (model: string, action: string): string => `${basePath}/model/${encodeURIComponent(model)}/${action}`;

  /** Bedrock's answer, or the error answer when no credentials could be had. */
  const post = async (path: string, body: string, c: UpstreamCall, stream: boolean): Promise<Sent> => {
    let h: Record<string, string>;
    try {
      h = await auth(path, body, stream ? streamHeaders : jsonHeaders);
    } catch (err) {
      if (err instanceof TokenError) return { failed: err };
      throw err;
    }
    c.tap?.sent(body);
    const res = await pool.request({ method: 'POST', path, headers: h, body, signal: c.signal });
    // AWS quotes the session token in a signature refusal: a temporary one from the chain is
    // no configured secret the registry's scrubber knows, so it is scrubbed here, from both copies.
    const token = h['x-amz-security-token'];
    if (res.statusCode >= 400 && token !== undefined && c.tap) {
      const scrub = c.tap.scrub;
      const withToken = (text: string): string => (scrub ? scrub(text) : text).replaceAll(token, REDACTED);
      c.tap.scrub = withToken;
    }
    return { status: res.statusCode, headers: res.headers, body: res.body, token };
  };

  /** `body` read through the attempt's record when there is one. */
  const recorded = (c: UpstreamCall, status: number, headers: IncomingHttpHeaders, body: Readable): Readable =>
    c.tap ? c.tap.received(status, headers, body) : body;

  /**
   * A failure as the client API's error answer, Anthropic's unless `shape` says otherwise (`body`
   * unread: the record has Bedrock's own answer, or gets this one).
   */
  const failure = (e: BedrockError, headers: IncomingHttpHeaders, shape: ErrorShape = anthropicErrorJson): UpstreamResponse => {
    const h: IncomingHttpHeaders = { 'content-type': JSON_TYPE };
    const id = headers['x-amzn-requestid'];
    if (id !== undefined) h['x-amzn-requestid'] = id;
    return { status: e.status, headers: h, body: Readable.from([Buffer.from(shape(e))]) };
  };

  /** Bedrock's HTTP error answer (its exception named in `x-amzn-errortype`), read through the record. */
  const httpFailure = async (res: Answer, read: Readable, shape?: ErrorShape): Promise<UpstreamResponse> => {
    const raw = await readAll(read);
    const type = res.headers['x-amzn-errortype'];
    const message = res.token === undefined ? bedrockMessage(raw) : bedrockMessage(raw).replaceAll(res.token, REDACTED);
    return failure(bedrockError(typeof type === 'string' ? type.split(':')[0]! : '', res.status, message), res.headers, shape);
  };

  async function streamed(c: UpstreamCall, res: Answer, api: BedrockStreamApi = 'invoke', shape?: ErrorShape): Promise<UpstreamResponse> {
    const decoder = new BedrockEventStreamToSse(api);
    const sse = translatedStream(res.body, (b) => decoder.push(b), () => decoder.end());
    const first = await peek(sse);
    if (first === null) throw new FramingError('Bedrock stream ended before its first event');
    // Failed before saying anything (throttled, …): an error answer, which routing may retry elsewhere.
    if (decoder.opening) {
      sse.destroy();
      const f = failure(decoder.opening, res.headers, shape);
      return { ...f, body: recorded(c, f.status, f.headers, f.body) };
    }
    const headers: IncomingHttpHeaders = { ...SSE_HEADERS };
    const id = res.headers['x-amzn-requestid'];
    if (id !== undefined) headers['x-amzn-requestid'] = id;
    // The record keeps the events the frames carried: binary frames stored as text would be garbled.
    // Without a record, a pass-through reader still resumes the stream peek() left paused.
    const body = c.tap ? c.tap.received(res.status, headers, sse) : readThrough(sse, { chunk: (b) => b });
    return { status: res.status, headers, body };
  }

  async function messages(json: Readonly<Record<string, unknown>>, c: UpstreamCall): Promise<UpstreamResponse> {
    const body = invokeBody(json, betas(c.headers?.['anthropic-beta']));
    const res = await post(modelPath(c.model, c.stream ? 'invoke-with-response-stream' : 'invoke'), body, c, c.stream);
    if ('failed' in res) return anthropicAuthFailure(res.failed);
    if (res.status >= 400) return httpFailure(res, recorded(c, res.status, res.headers, res.body));
    if (c.stream) return streamed(c, res);
    return { status: res.status, headers: res.headers, body: recorded(c, res.status, res.headers, res.body) };
  }

  /** One Converse POST: failures in OpenAI's error shape, a stream as its events' SSE (recorded as that). */
  async function converse(c: UpstreamCall, body: string): Promise<UpstreamResponse> {
    const res = await post(modelPath(c.model, c.stream ? 'converse-stream' : 'converse'), body, c, c.stream);
    if ('failed' in res) return failure({ status: res.failed.status, type: anthropicTypeForStatus(res.failed.status), message: res.failed.message }, {}, converseErrorJson);
    if (res.status >= 400) return httpFailure(res, recorded(c, res.status, res.headers, res.body), converseErrorJson);
    if (c.stream) return streamed(c, res, 'converse', converseErrorJson);
    return { status: res.status, headers: res.headers, body: recorded(c, res.status, res.headers, res.body) };
  }

  /** A model other than Claude: OpenAI chat through Converse, Anthropic Messages translated on top (count_tokens estimated). */
  function viaConverse(c: UpstreamCall): Promise<UpstreamResponse> {
    switch (c.api) {
      case 'openai.chat': return chatViaConverse(converse, c);
      case 'anthropic.messages':
      case 'anthropic.count_tokens': return anthropicViaChat((chat) => chatViaConverse(converse, chat), c, 'max_tokens');
      default: throw unsupportedApi(c.api, 'Bedrock');
    }
  }

  async function countTokens(c: UpstreamCall): Promise<UpstreamResponse> {
    // CountTokens takes the InvokeModel body, whose max_tokens Claude requires; counting has none.
    const invoke = invokeBody({ max_tokens: 1, ...c.json }, betas(c.headers?.['anthropic-beta']));
    const body = JSON.stringify({ input: { invokeModel: { body: Buffer.from(invoke).toString('base64') } } });
    const res = await post(modelPath(foundationModel(c.model), 'count-tokens'), body, c, false);
    if ('failed' in res) return anthropicAuthFailure(res.failed);
    const read = recorded(c, res.status, res.headers, res.body);
    if (res.status >= 400) return httpFailure(res, read);
    const raw = parseJson(await readAll(read));
    const n = isObject(raw) ? raw['inputTokens'] : undefined;
    if (typeof n !== 'number') return failure({ status: 502, type: 'api_error', message: 'Bedrock CountTokens answered without inputTokens' }, res.headers);
    return jsonResponse(200, { input_tokens: n });
  }

  return {
    name,
    kind: cfg.kind,
    priceProviderId: KIND_PRESETS['bedrock']!.priceProviderId,
    models: cfg.models,
    async call(c: UpstreamCall): Promise<UpstreamResponse> {
      if (!isAnthropicModel(c.model)) return viaConverse(c);
      switch (c.api) {
        case 'anthropic.messages': return messages(c.json, c);
        case 'anthropic.count_tokens': return countTokens(c);
        case 'openai.chat': return chatViaAnthropic((request) => messages(request, c), c);
        default: throw unsupportedApi(c.api, 'Bedrock');
      }
    },
    async close(): Promise<void> {
      // The pool is shared per origin; its owner (the pool cache) closes it.
    },
  };
}
