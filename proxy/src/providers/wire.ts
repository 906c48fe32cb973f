// Small I/O helpers shared by the adapters that translate: whole-body reads (errors and
// non-stream answers are small), synthetic JSON answers, and a byte-fed translating stream.
import { Readable } from 'node:stream';
import { readThrough } from '../capture/link.ts';
import { ProxyError } from '../errors.ts';
import { isTranslateError, type NormalizedUsage, type StreamResult } from '../translate/index.ts';
import type { Tokens } from '../capture/usage.ts';
import type { UpstreamResponse } from './types.ts';

export async function readAll(body: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of body) parts.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(parts);
}

export function parseJson(buf: Buffer): unknown {
  try {
    return JSON.parse(buf.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

export function jsonResponse(status: number, body: unknown, extra: Partial<UpstreamResponse> = {}): UpstreamResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: Readable.from([Buffer.from(JSON.stringify(body))]), ...extra };
}

/** Anthropic's error body: `{"type":"error","error":{"type","message"}}`. */
export const anthropicErrorJson = (e: { type: string; message: string }): string => JSON.stringify({ type: 'error', error: { type: e.type, message: e.message } });

export const isEventStream = (ct: unknown): boolean => typeof ct === 'string' && ct.startsWith('text/event-stream');

/**
 * `src` read through a byte translator. Destroying the result (client abort) destroys `src`,
 * which aborts the upstream request; an upstream failure surfaces as the result's 'error'.
 */
export function translatedStream(src: Readable, push: (chunk: Buffer) => Buffer, end: () => Buffer): Readable {
  // A translator that throws (an upstream event past its size bound) fails this stream, never
  // the process: the error reaches the consumer like an upstream failure.
  return readThrough(src, { chunk: push, end });
}

export const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' };

/** A stream translator between the two APIs' SSE (translate/*-stream-to-*.ts). */
export interface SseTranslator {
  push(chunk: Buffer): Buffer;
  end(): Buffer;
  result(): StreamResult<unknown, unknown>;
}

/** `up`'s event stream read through `t`, with the usage `t` saw once it ends. */
export function translatedSse(up: UpstreamResponse, t: SseTranslator, upstreamApi: string): UpstreamResponse {
  return {
    status: up.status,
    headers: { ...SSE_HEADERS },
    body: translatedStream(up.body, (b) => t.push(b), () => t.end()),
    upstreamApi,
    tokens: () => {
      const r = t.result();
      return r.usageMissing ? null : tokensFromNormalized(r.usage);
    },
  };
}

/** The translators' usage is already the normaliser's Tokens: recorded as the upstream reported it. */
export function tokensFromNormalized(u: NormalizedUsage): Tokens {
  return { ...u, tokens_estimated: false };
}

/** A translator's refusal of the client's request → the client's 400 (nothing was sent). */
export function refuse(err: unknown): never {
  if (isTranslateError(err) && err.status < 500) throw new ProxyError(400, err.code, err.message, 'invalid_request_error', err.param);
  throw err;
}

/** The client-facing endpoint of the APIs only some kinds serve, named in their refusal. */
const ENDPOINT_OF: Readonly<Record<string, string>> = {
  'openai.images': 'POST /v1/images/generations',
  'openai.images.edits': 'POST /v1/images/edits',
  'openai.images.variations': 'POST /v1/images/variations',
  'openai.moderations': 'POST /v1/moderations',
  'openai.audio.transcriptions': 'POST /v1/audio/transcriptions',
  'openai.audio.translations': 'POST /v1/audio/translations',
  'openai.audio.speech': 'POST /v1/audio/speech',
};

export function unsupportedApi(api: string, kind: string): ProxyError {
  const ep = ENDPOINT_OF[api];
  return new ProxyError(400, 'unsupported_api', `${ep ? `${ep} (${api})` : api} is not available for ${kind} deployments.`, 'invalid_request_error');
}
