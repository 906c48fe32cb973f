// The one interface every provider kind implements. Generic code (routes, capture) only sees
// this; anything provider-specific stays inside its adapter.
import type { Readable } from 'node:stream';
import type { IncomingHttpHeaders } from 'node:http';

export type UpstreamApi = 'openai.chat' | 'openai.completions' | 'openai.embeddings';

export interface UpstreamCall {
  api: UpstreamApi;
  /** The deployment's model name (already written into `body`). */
  model: string;
  /** Exact bytes to send upstream. */
  body: Buffer | string;
  /** The parsed body as sent (model/stream_options already rewritten); adapters must not mutate it. */
  json: Readonly<Record<string, unknown>>;
  stream: boolean;
  /** Aborted when the client goes away: the adapter must stop the upstream work at once. */
  signal: AbortSignal;
}

export interface UpstreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** Raw response bytes; destroying it aborts the upstream request. */
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
  call(c: UpstreamCall): Promise<UpstreamResponse>;
  close(): Promise<void>;
}
