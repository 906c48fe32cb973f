// The one error type the translators throw. Routes turn it into their surface's error shape.
import type { AnthropicErrorBody } from './types-anthropic.ts';
import type { OpenAIErrorBody } from './types-openai.ts';

export type TranslateErrorCode =
  /** the client body is not the shape the API defines (wrong type, missing field) */
  | 'invalid_request'
  /** a parameter whose meaning the target API cannot honour (n>1, logprobs, audio, ...) */
  | 'unsupported_parameter'
  /** a content part / block type the target API has no equivalent for */
  | 'unsupported_content'
  /** a tool definition or tool_choice that cannot be expressed */
  | 'invalid_tool'
  /** assistant tool call arguments that are not a JSON object */
  | 'invalid_tool_arguments'
  /** the upstream answered with something we cannot translate (a 502, not the client's fault) */
  | 'invalid_upstream_response';

export class TranslateError extends Error {
  readonly code: TranslateErrorCode;
  /** JSON path of the offending field, e.g. `messages[2].content[0].type`, or null */
  readonly param: string | null;
  /** 400 for client-side problems, 502 for untranslatable upstream responses */
  readonly status: number;

  constructor(code: TranslateErrorCode, message: string, param: string | null = null) {
    super(message);
    this.name = 'TranslateError';
    this.code = code;
    this.param = param;
    this.status = code === 'invalid_upstream_response' ? 502 : 400;
  }
}

export function isTranslateError(e: unknown): e is TranslateError {
  return e instanceof TranslateError;
}

export function translateErrorToOpenAI(e: TranslateError): { status: number; body: OpenAIErrorBody } {
  const type = e.status === 502 ? 'upstream_error' : 'invalid_request_error';
  return { status: e.status, body: { error: { message: e.message, type, param: e.param, code: e.code } } };
}

export function translateErrorToAnthropic(e: TranslateError): { status: number; body: AnthropicErrorBody } {
  const type = e.status === 502 ? 'api_error' : 'invalid_request_error';
  const where = e.param === null ? '' : `${e.param}: `;
  return { status: e.status, body: { type: 'error', error: { type, message: `${where}${e.message}` } } };
}
