// The one interface every provider kind implements. Generic code (routes, capture) only sees
// this; anything provider-specific stays inside its adapter.
import type { Readable } from 'node:stream';
import type { IncomingHttpHeaders } from 'node:http';
import type { Tokens } from '../capture/usage.ts';
import type { AttemptTap } from '../capture/attempt-tap.ts';

/** The API the client spoke. A provider answers in that API's wire format, translating if it must. */
export type UpstreamApi =
  | 'openai.chat'
  | 'openai.completions'
  | 'openai.embeddings'
  | 'openai.images'
  | 'openai.images.edits'
  | 'openai.images.variations'
  | 'openai.moderations'
  | 'openai.audio.transcriptions'
  | 'openai.audio.translations'
  | 'openai.audio.speech'
  | 'openai.responses'
  | 'anthropic.messages'
  | 'anthropic.count_tokens';

export interface UpstreamCall {
  api: UpstreamApi;
  /** The deployment's model name (already written into `body`). */
  model: string;
  /** Exact bytes to send upstream. */
  body: Buffer | string;
  /** The body's content type when it is not JSON (an upload's multipart/form-data, with its boundary). */
  contentType?: string | undefined;
  /** The parsed body as sent (model/stream_options already rewritten); adapters must not mutate it. */
  json: Readonly<Record<string, unknown>>;
  stream: boolean;
  /** Aborted when the client goes away: the adapter must stop the upstream work at once. */
  signal: AbortSignal;
  /**
   * Client headers the route chose to pass on (e.g. `anthropic-version`, `anthropic-beta`),
   * lower-case. Adapters forward only what their upstream understands; never credentials.
   */
  headers?: Readonly<Record<string, string>>;
  /**
   * The attempt's wire record: adapters call `tap.sent(bytes)` with exactly what they send and
   * read the response body through `tap.received(...)`, before translating anything.
   */
  tap?: AttemptTap | undefined;
}

/**
 * A request body that is a form (an audio or image upload), not JSON: sent with its own content
 * type, re-made when another deployment names another upstream model, and recorded by its fields
 * and each file's name, type and size, never by its bytes.
 */
export interface FormBody {
  /** multipart/form-data with the client's boundary. */
  readonly contentType: string;
  /** The client's own bytes. */
  readonly raw: Buffer;
  /** The form naming `model` as its model: `raw` itself when it already does. */
  forModel(model: string): Buffer;
  /** What the record shows for that form: its fields, each file's name, type and size. */
  shownFor(model: string): string;
}

export interface UpstreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** Raw response bytes, in the wire format of `UpstreamCall.api`; destroying it aborts the upstream request. */
  body: Readable;
  /** The API the upstream actually spoke (e.g. 'anthropic.messages' behind a translated 'openai.chat'); default: the client's. */
  upstreamApi?: string;
  /**
   * Token counts as the upstream reported them, read once the body has ended. Set by adapters
   * that translate, where the client-visible usage cannot carry everything (cache writes).
   * null: nothing reported; the relay falls back to what it captured.
   */
  tokens?: () => Tokens | null;
}

/** One request to an upstream's Files or Batches API, by OpenAI's path under `/v1` (`/files/{id}/content`). */
export interface FilesRequest {
  method: 'GET' | 'POST' | 'DELETE';
  /** OpenAI's path (`/files`, `/batches/{id}/cancel`), ids already URL-encoded. */
  path: string;
  /** Query parameters to pass on (list paging). */
  query?: Readonly<Record<string, string>>;
  body?: Buffer;
  /** The body's content type (JSON unless given: an upload's multipart/form-data). */
  contentType?: string;
}

/** The upstream's answer, read whole up to the bound the caller gave. */
export interface FilesResponse {
  status: number;
  contentType: string;
  body: Buffer;
}

/**
 * OpenAI's Files and Batches APIs as a kind serves them (kinds listing `batches` in presets.ts,
 * and the mock): the adapter knows where they live (Azure: `/openai/files?api-version=…`) and
 * how to authenticate; routes/batches speak OpenAI's wire format over it.
 */
export interface FilesApi {
  /** `maxBytes`: an answer longer than this fails (objects; a file's content is streamed). */
  send(r: FilesRequest, maxBytes: number): Promise<FilesResponse>;
  /** The answer as it arrives (a file's content, of any size); destroying the body aborts the request. */
  stream(r: FilesRequest): Promise<FilesStream>;
}

export interface FilesStream {
  status: number;
  contentType: string;
  body: Readable;
}

export interface Provider {
  /** Config name (`providers.<name>`). */
  readonly name: string;
  readonly kind: string;
  /** genai-prices provider id, when the upstream is known to be that provider's own API. */
  readonly priceProviderId: string | undefined;
  /** Upstream models listed by /v1/models as `name/model`. */
  readonly models: readonly string[];
  /**
   * May throw a ProxyError (a 4xx) before anything is sent when the call cannot be expressed
   * for this upstream (translation refused); any other throw is an upstream failure.
   */
  call(c: UpstreamCall): Promise<UpstreamResponse>;
  /** The Files and Batches APIs, for kinds that have them (OpenAI, Azure, the mock); absent otherwise. */
  readonly files?: FilesApi | undefined;
  close(): Promise<void>;
}
