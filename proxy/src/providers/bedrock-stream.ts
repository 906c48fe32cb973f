// Bedrock's streamed InvokeModel answer (application/vnd.amazon.eventstream) as Anthropic SSE.
// Each binary frame is cut from the bytes as they arrive (a frame may span reads, a read may
// hold several frames) and decoded by the AWS codec, which checks both CRCs. A `chunk` event
// carries `{"bytes":"<base64 of one Anthropic stream event>"}` and becomes
// `event: <type>\ndata: <that JSON>\n\n`; an exception (`throttlingException`, …) becomes
// Anthropic's own mid-stream `event: error`, which the SDKs raise and the translators map. A
// corrupt or truncated frame throws FramingError: the stream fails like a broken connection.
// ConverseStream's frames are written as they are named: `event: <eventType>` (messageStart,
// contentBlockDelta, …) or `event: <exceptionType>`, with the frame's JSON (converse-stream.ts
// reads them on).
// https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InvokeModelWithResponseStream.html
import { EventStreamCodec, fromUtf8, toUtf8, type Message } from './aws-wire.ts';
import { anthropicTypeForStatus } from '../translate/index.ts';
import { anthropicErrorJson } from './wire.ts';

/** A frame no real answer reaches (AWS caps an event stream message at 16 MiB): a corrupt length. */
const MAX_FRAME = 16 * 1024 * 1024;
const PRELUDE = 12;
const MIN_FRAME = 16;

/** The eventstream itself is broken (bad CRC, impossible length, cut mid-frame): an upstream failure. */
export class FramingError extends Error {
  override readonly name = 'FramingError';
  readonly code = 'GATELOG_ERR_UPSTREAM_FRAMING';
}

export interface BedrockError {
  /** The status gatelog answers with: one routing retries on where the failure is transient. */
  status: number;
  /** Anthropic's error type for it. */
  type: string;
  message: string;
}

/**
 * Bedrock's exceptions by name (HTTP `x-amzn-errortype` or a stream's `:exception-type`, first
 * letter lower-cased). Where Bedrock's own status is not one clients and routing act on (408
 * timeout, 424 model error), the nearest one that is.
 * https://docs.aws.amazon.com/bedrock/latest/APIReference/CommonErrors.html
 */
const EXCEPTIONS: Readonly<Record<string, { status: number; type: string }>> = {
  throttlingException: { status: 429, type: 'rate_limit_error' },
  serviceQuotaExceededException: { status: 429, type: 'rate_limit_error' },
  serviceUnavailableException: { status: 503, type: 'overloaded_error' },
  modelNotReadyException: { status: 503, type: 'overloaded_error' },
  internalServerException: { status: 500, type: 'api_error' },
  modelStreamErrorException: { status: 502, type: 'api_error' },
  modelErrorException: { status: 502, type: 'api_error' },
  modelTimeoutException: { status: 504, type: 'api_error' },
  validationException: { status: 400, type: 'invalid_request_error' },
  accessDeniedException: { status: 403, type: 'permission_error' },
  resourceNotFoundException: { status: 404, type: 'not_found_error' },
  unrecognizedClientException: { status: 401, type: 'authentication_error' },
  expiredTokenException: { status: 401, type: 'authentication_error' },
};

/** Bedrock's failure by exception name (any case of its first letter) and status, with its message. */
export function bedrockError(name: string, status: number, message: string): BedrockError {
  const known = EXCEPTIONS[name.charAt(0).toLowerCase() + name.slice(1)];
  if (known) return { ...known, message };
  const s = status >= 400 ? status : 500;
  return { status: s, type: anthropicTypeForStatus(s), message };
}

const header = (m: Message, name: string): string | undefined => {
  const h = m.headers[name];
  return h?.type === 'string' ? h.value : undefined;
};

/** The message of a Bedrock error body (`{"message"}` or `{"Message"}`), else its text. */
export function bedrockMessage(body: Uint8Array): string {
  try {
    const v = JSON.parse(toUtf8(body)) as { message?: unknown; Message?: unknown };
    const m = v.message ?? v.Message;
    if (typeof m === 'string') return m;
  } catch {
    // not JSON: the text itself
  }
  return toUtf8(body).slice(0, 2000);
}

/** The stream's API: InvokeModel's `chunk` events carrying Anthropic events, or ConverseStream's own events. */
export type BedrockStreamApi = 'invoke' | 'converse';

/** Byte-fed converter; one per stream. `push` and `end` return the SSE bytes ready so far. */
export class BedrockEventStreamToSse {
  readonly #codec = new EventStreamCodec(toUtf8, fromUtf8);
  readonly #api: BedrockStreamApi;
  #pending: Buffer = Buffer.alloc(0);
  /** An event has been handed on. */
  #said = false;
  /** An exception came before any event: the answer failed before saying anything. */
  opening: BedrockError | null = null;

  constructor(api: BedrockStreamApi = 'invoke') {
    this.#api = api;
  }

  push(chunk: Buffer): Buffer {
    let buf = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const out: string[] = [];
    while (buf.length >= PRELUDE) {
      const total = buf.readUInt32BE(0);
      if (total < MIN_FRAME || total > MAX_FRAME) throw new FramingError(`Bedrock event stream frame of impossible length ${total}`);
      if (buf.length < total) break;
      out.push(this.#frame(buf.subarray(0, total)));
      buf = buf.subarray(total);
    }
    this.#pending = buf;
    return out.length === 0 ? Buffer.alloc(0) : Buffer.from(out.join(''), 'utf8');
  }

  end(): Buffer {
    if (this.#pending.length > 0) throw new FramingError(`Bedrock event stream ended inside a frame (${this.#pending.length} bytes left)`);
    return Buffer.alloc(0);
  }

  #frame(bytes: Buffer): string {
    let m: Message;
    try {
      m = this.#codec.decode(bytes);
    } catch (err) {
      throw new FramingError(`Bedrock event stream frame rejected: ${(err as Error).message}`);
    }
    const kind = header(m, ':message-type');
    if (kind === 'exception' || kind === 'error') {
      const name = header(m, ':exception-type') ?? header(m, ':error-code') ?? 'internalServerException';
      const e = bedrockError(name, 0, header(m, ':error-message') ?? bedrockMessage(m.body));
      if (!this.#said) this.opening ??= e;
      if (this.#api === 'converse') return `event: ${/^[A-Za-z]+$/.test(name) ? name : 'internalServerException'}\ndata: ${JSON.stringify({ message: e.message })}\n\n`;
      return `event: error\ndata: ${anthropicErrorJson(e)}\n\n`;
    }
    const type = header(m, ':event-type');
    if (this.#api === 'converse') {
      if (type === undefined || !/^[A-Za-z]+$/.test(type)) return '';
      this.#said = true;
      return `event: ${type}\ndata: ${compactJson(m.body, type)}\n\n`;
    }
    if (type !== 'chunk') return '';
    this.#said = true;
    return sseOf(m.body);
  }
}

/** A frame's JSON payload on one line. */
function compactJson(body: Uint8Array, type: string): string {
  const text = toUtf8(body);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new FramingError(`Bedrock ${type} event without JSON in it`);
  }
  return text.includes('\n') || text.includes('\r') ? JSON.stringify(v) : text;
}

/** One `chunk` payload as its SSE event. */
function sseOf(body: Uint8Array): string {
  let json: string;
  let type: unknown;
  try {
    const b64 = (JSON.parse(toUtf8(body)) as { bytes?: unknown }).bytes;
    if (typeof b64 !== 'string') throw new Error('no bytes');
    json = Buffer.from(b64, 'base64').toString('utf8');
    const event = JSON.parse(json) as { type?: unknown };
    type = event.type;
    // A data line ends at a newline: JSON with line breaks between its tokens is written compact.
    if (json.includes('\n') || json.includes('\r')) json = JSON.stringify(event);
  } catch {
    throw new FramingError('Bedrock chunk event without an Anthropic stream event in it');
  }
  if (typeof type !== 'string' || !/^[a-z_]+$/.test(type)) throw new FramingError('Bedrock chunk event without an Anthropic event type');
  return `event: ${type}\ndata: ${json}\n\n`;
}
