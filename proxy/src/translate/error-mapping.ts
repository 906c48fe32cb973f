// Upstream error bodies translated between the two API surfaces, keeping a status routing can
// act on (429 and 5xx are retryable upstream failures; 4xx other than 429 are the caller's).
import type { AnthropicErrorBody } from './types-anthropic.ts';
import type { OpenAIErrorBody } from './types-openai.ts';
import { isObject } from './guards.ts';

interface ErrorClass { status: number; openaiType: string }

/**
 * Anthropic error types → status + OpenAI error type.
 * overloaded_error (Anthropic's 529) becomes 503: OpenAI clients and generic HTTP tooling know
 * 503 as "temporarily overloaded, retry", while 529 is non-standard. The original status stays
 * available as `upstreamStatus`.
 */
const ANTHROPIC_TYPES: Record<string, ErrorClass> = {
  invalid_request_error: { status: 400, openaiType: 'invalid_request_error' },
  authentication_error: { status: 401, openaiType: 'authentication_error' },
  permission_error: { status: 403, openaiType: 'permission_error' },
  not_found_error: { status: 404, openaiType: 'not_found_error' },
  request_too_large: { status: 413, openaiType: 'invalid_request_error' },
  rate_limit_error: { status: 429, openaiType: 'rate_limit_error' },
  api_error: { status: 500, openaiType: 'server_error' },
  overloaded_error: { status: 503, openaiType: 'server_error' },
};

export interface MappedError<B> {
  status: number;
  /** the status the upstream actually returned (0 for mid-stream errors) */
  upstreamStatus: number;
  body: B;
}

/** Body may be parsed JSON, raw text or bytes; anything unparseable becomes the message. */
function bodyObject(body: unknown): { obj: Record<string, unknown> | undefined; text: string } {
  let text = '';
  if (typeof body === 'string') text = body;
  else if (body instanceof Uint8Array) text = new TextDecoder().decode(body);
  else if (isObject(body)) return { obj: body, text: '' };
  try {
    const parsed: unknown = JSON.parse(text);
    if (isObject(parsed)) return { obj: parsed, text };
  } catch {
    // not JSON: fall through
  }
  return { obj: undefined, text: text.slice(0, 2000) };
}

function statusClassOpenAI(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/** `status` is the upstream HTTP status, or 0 for an `error` event inside a 200 stream. */
export function anthropicErrorToOpenAI(status: number, body: unknown): MappedError<OpenAIErrorBody> {
  const { obj, text } = bodyObject(body);
  const err = obj !== undefined && isObject(obj['error']) ? obj['error'] : undefined;
  const aType = typeof err?.['type'] === 'string' ? err['type'] : undefined;
  const message = typeof err?.['message'] === 'string' ? err['message'] : text || `upstream error (status ${status})`;
  const known = aType === undefined ? undefined : ANTHROPIC_TYPES[aType];
  const fallbackStatus = status >= 400 ? (status === 529 ? 503 : status) : 500;
  // `api_error` names no status of its own: a gateway's 502 or 504 (Bedrock's model errors and
  // timeouts) stays what it was rather than becoming a 500.
  const keepUpstream = aType === 'api_error' && status >= 500 && status <= 599;
  const mappedStatus = keepUpstream ? fallbackStatus : (known?.status ?? fallbackStatus);
  return {
    status: mappedStatus,
    upstreamStatus: status,
    body: {
      error: {
        message,
        type: known?.openaiType ?? statusClassOpenAI(mappedStatus),
        param: null,
        // the upstream's own type is the stable, most specific code we have
        code: aType ?? null,
      },
    },
  };
}

/** Anthropic's error type for an HTTP status (what Anthropic itself answers with that status). */
export function anthropicTypeForStatus(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 413) return 'request_too_large';
  if (status === 429) return 'rate_limit_error';
  if (status === 503 || status === 529) return 'overloaded_error';
  if (status >= 500 || status < 400) return 'api_error';
  return 'invalid_request_error';
}

/** The status is kept as is (Anthropic clients retry 429, 5xx and 529 alike); the type follows it. */
export function openaiErrorToAnthropic(status: number, body: unknown): MappedError<AnthropicErrorBody> {
  const { obj, text } = bodyObject(body);
  const err = obj !== undefined && isObject(obj['error']) ? obj['error'] : undefined;
  const message = typeof err?.['message'] === 'string' ? err['message'] : text || `upstream error (status ${status})`;
  const mappedStatus = status >= 400 ? status : 500;
  const oType = typeof err?.['type'] === 'string' ? err['type'] : '';
  const code = typeof err?.['code'] === 'string' ? err['code'] : '';
  // mid-stream errors carry no status: infer one from the error's own type/code
  const inferred = status >= 400 ? mappedStatus : oType.includes('rate_limit') || code.includes('rate_limit') ? 429 : 500;
  return {
    status: status >= 400 ? mappedStatus : inferred,
    upstreamStatus: status,
    body: { type: 'error', error: { type: anthropicTypeForStatus(inferred), message } },
  };
}
