// Pure OpenAI ⇄ Anthropic translators: requests, responses, byte-fed stream transformers, errors.
export { TranslateError, isTranslateError, translateErrorToAnthropic, translateErrorToOpenAI, type TranslateErrorCode } from './errors.ts';
export { anthropicErrorToOpenAI, anthropicTypeForStatus, openaiErrorToAnthropic, type MappedError } from './error-mapping.ts';
export { openaiToAnthropicRequest, wantsStreamUsage, type OpenAIToAnthropicOptions, type OpenAIToAnthropicResult } from './openai-to-anthropic-request.ts';
export { anthropicToOpenAIResponse, type AnthropicToOpenAIResponseOptions, type TranslatedResponse } from './anthropic-to-openai-response.ts';
export { AnthropicToOpenAIStream, type AnthropicStreamToOpenAIOptions, type StreamResult } from './anthropic-stream-to-openai.ts';
export { anthropicToOpenAIRequest, type AnthropicToOpenAIOptions, type AnthropicToOpenAIResult } from './anthropic-request-to-openai.ts';
export { openaiToAnthropicResponse } from './openai-response-to-anthropic.ts';
export { OpenAIToAnthropicStream, type OpenAIStreamToAnthropicOptions } from './openai-stream-to-anthropic.ts';
export { SseParser, sseFrame, type SseEvent } from './sse.ts';
export {
  anthropicStopToFinish, emptyUsage, normalizeAnthropicUsage, normalizeOpenAIUsage, openaiFinishToStop,
  toAnthropicUsage, toOpenAIUsage, type NormalizedUsage,
} from './usage.ts';
export type * from './types-openai.ts';
export type * from './types-anthropic.ts';
