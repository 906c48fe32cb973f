// OpenAI chat.completion → Anthropic message (for /v1/messages served by an OpenAI-format deployment).
import type { AnthropicMessage, AnthropicResponseBlock, AnthropicStopReason } from './types-anthropic.ts';
import type { TranslatedResponse } from './anthropic-to-openai-response.ts';
import { TranslateError } from './errors.ts';
import { isObject, tryParseJson, type Json } from './guards.ts';
import { normalizeOpenAIUsage, openaiFinishToStop, toAnthropicUsage } from './usage.ts';

/**
 * Tool arguments arrive as a JSON string; Anthropic needs an object. A model that produced
 * broken JSON gets a 502 here rather than a silently emptied call.
 */
export function parseToolArguments(args: unknown, param: string): Json {
  if (typeof args !== 'string' || args.trim() === '') return {};
  const input = tryParseJson(args);
  if (!isObject(input)) throw new TranslateError('invalid_upstream_response', 'upstream tool call arguments are not a JSON object', param);
  return input;
}

export function openaiToAnthropicResponse(raw: unknown): TranslatedResponse<AnthropicMessage> {
  const choices = isObject(raw) ? raw['choices'] : undefined;
  const choice: unknown = Array.isArray(choices) ? choices[0] : undefined;
  if (!isObject(raw) || !isObject(choice) || !isObject(choice['message'])) {
    throw new TranslateError('invalid_upstream_response', 'upstream response is not an OpenAI chat completion');
  }
  const msg = choice['message'];
  const content: AnthropicResponseBlock[] = [];
  // reasoning_content is dropped: Anthropic thinking blocks need a signature we cannot produce,
  // and clients echo them back verbatim on the next turn.
  if (typeof msg['content'] === 'string' && msg['content'] !== '') content.push({ type: 'text', text: msg['content'] });
  const refusal = typeof msg['refusal'] === 'string' && msg['refusal'] !== '' ? msg['refusal'] : undefined;
  if (refusal !== undefined) content.push({ type: 'text', text: refusal });
  const calls = Array.isArray(msg['tool_calls']) ? msg['tool_calls'] : [];
  calls.forEach((c: unknown, i) => {
    const fn = isObject(c) && isObject(c['function']) ? c['function'] : {};
    content.push({
      type: 'tool_use',
      id: isObject(c) && typeof c['id'] === 'string' ? c['id'] : `toolu_${i}`,
      name: typeof fn['name'] === 'string' ? fn['name'] : '',
      input: parseToolArguments(fn['arguments'], `choices[0].message.tool_calls[${i}].function.arguments`),
    });
  });
  const stop: AnthropicStopReason | null = refusal !== undefined ? 'refusal' : openaiFinishToStop(choice['finish_reason']);
  const usage = normalizeOpenAIUsage(raw['usage']);
  const model = typeof raw['model'] === 'string' ? raw['model'] : '';
  const body: AnthropicMessage = {
    id: typeof raw['id'] === 'string' ? raw['id'] : '',
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: stop,
    stop_sequence: null,
    usage: toAnthropicUsage(usage),
  };
  return { body, usage, upstreamModel: model };
}
