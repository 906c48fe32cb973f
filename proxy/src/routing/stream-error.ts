// The event that ends a stream which broke after its first byte reached the client, in the
// client's API shape, so SDKs raise a proper error instead of returning a truncated answer.
export type StreamErrorEvent = (errorClass: string, message: string) => Buffer;

/** OpenAI: a `data:` event holding an error object (what the openai SDKs raise APIError from). */
export const openAiStreamError: StreamErrorEvent = (errorClass, message) =>
  Buffer.from(`data: ${JSON.stringify({ error: { message, type: 'server_error', param: null, code: errorClass } })}\n\n`);

/** Anthropic: `event: error` with the Messages API error body. */
export const anthropicStreamError: StreamErrorEvent = (errorClass, message) =>
  Buffer.from(`event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: errorClass === 'upstream_overloaded' ? 'overloaded_error' : 'api_error', message } })}\n\n`);
