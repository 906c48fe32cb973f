// One error family for the OpenAI surface: every failure carries a stable `code`, an HTTP
// status and the OpenAI error `type`; one function turns any thrown value into that shape.
// Upstream network failures are classified by undici/Node `err.code`, never by message text.

export type OpenAiErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'not_found_error'
  | 'server_error'
  | 'upstream_error'
  // Governance refusals: keys, budgets, rate limits, shared state.
  | 'permission_error'
  | 'budget_exceeded'
  | 'requests'
  | 'tokens'
  | 'service_unavailable';

export class ProxyError extends Error {
  override readonly name = 'ProxyError';
  readonly status: number;
  readonly code: string;
  readonly type: OpenAiErrorType;
  readonly param: string | null;
  constructor(status: number, code: string, message: string, type: OpenAiErrorType = 'invalid_request_error', param: string | null = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.type = type;
    this.param = param;
  }
}

export const badRequest = (code: string, message: string, param: string | null = null): ProxyError =>
  new ProxyError(400, code, message, 'invalid_request_error', param);

/** How an upstream failure is recorded (attempt.error_class) and answered. */
export interface UpstreamFailure {
  status: number;
  errorClass: string;
  message: string;
}

const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_INFO',
]);
const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

function errorCode(err: unknown): string | undefined {
  // Walk `cause` and AggregateError members (happy-eyeballs connects) for the first code.
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const inner = (e as { errors?: unknown[] }).errors;
    if (Array.isArray(inner) && inner.length > 0) {
      e = inner[0];
      continue;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Map an upstream transport error to 502 (unreachable/reset) or 504 (timeout). */
export function classifyUpstreamError(err: unknown): UpstreamFailure {
  const code = errorCode(err);
  if (code !== undefined && TIMEOUT_CODES.has(code)) {
    return { status: 504, errorClass: 'upstream_timeout', message: `upstream timed out (${code})` };
  }
  if (code !== undefined && CONNECT_CODES.has(code)) {
    return { status: 502, errorClass: 'upstream_unavailable', message: `upstream connection failed (${code})` };
  }
  return { status: 502, errorClass: 'upstream_error', message: `upstream request failed${code ? ` (${code})` : ''}` };
}

/** Fastify's own errors (body parsing, limits) mapped by their stable codes. */
const FASTIFY_ERRORS: Record<string, { status: number; code: string; message: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'request_too_large', message: 'Request body is larger than the configured limit.' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'unsupported_media_type', message: 'Content-Type must be application/json.' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'invalid_content_length', message: 'Content-Length does not match the body.' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'invalid_json', message: 'Request body is empty; expected a JSON object.' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'invalid_json', message: 'Request body is not valid JSON.' },
};

/** Any thrown value → a ProxyError (never leaking internals). */
export function toProxyError(err: unknown): ProxyError {
  if (err instanceof ProxyError) return err;
  const code = errorCode(err);
  const known = code !== undefined ? FASTIFY_ERRORS[code] : undefined;
  if (known) return new ProxyError(known.status, known.code, known.message, 'invalid_request_error');
  const status = (err as { statusCode?: unknown } | null)?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new ProxyError(status, 'invalid_request', 'The request could not be processed.', 'invalid_request_error');
  }
  return new ProxyError(500, 'internal_error', 'Internal error in gatelog.', 'server_error');
}

/** The OpenAI error body, serialized. */
export function openAiErrorBody(e: ProxyError): string {
  return JSON.stringify({ error: { message: e.message, type: e.type, param: e.param, code: e.code } });
}
