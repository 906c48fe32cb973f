// Anthropic Messages request (the /v1/messages ingress) → OpenAI chat request for OpenAI-format
// deployments. Pure; throws TranslateError (a 400) for what cannot be expressed.
import type { OpenAIChatRequest, OpenAIContentPart, OpenAIMessage, OpenAITool, OpenAIToolCall, OpenAIToolChoice } from './types-openai.ts';
import { TranslateError } from './errors.ts';
import { expectArray, expectObject, expectString, isObject, optBoolean, optNumber, optString, type Json } from './guards.ts';

export interface AnthropicToOpenAIOptions {
  /** the deployment's model id; defaults to the request's model */
  model?: string;
  /** OpenAI's reasoning models reject max_tokens; many compatible servers only know max_tokens */
  maxTokensField?: 'max_tokens' | 'max_completion_tokens';
}

export interface AnthropicToOpenAIResult {
  request: OpenAIChatRequest;
  ignoredParams: string[];
}

/** Hints or Anthropic-only features with no OpenAI equivalent; the answer's meaning does not change. */
const IGNORED = ['top_k', 'thinking', 'service_tier', 'container', 'mcp_servers'];

function imageUrl(block: Json, param: string): string {
  const src = expectObject(block['source'], `${param}.source`);
  if (src['type'] === 'base64') return `data:${expectString(src['media_type'], `${param}.source.media_type`)};base64,${expectString(src['data'], `${param}.source.data`)}`;
  if (src['type'] === 'url') return expectString(src['url'], `${param}.source.url`);
  throw new TranslateError('unsupported_content', `image source type ${JSON.stringify(src['type'])} is not supported`, `${param}.source.type`);
}

function documentPart(block: Json, param: string): OpenAIContentPart {
  const src = expectObject(block['source'], `${param}.source`);
  if (src['type'] === 'base64' && src['media_type'] === 'application/pdf') {
    return { type: 'file', file: { filename: typeof block['title'] === 'string' ? block['title'] : 'document.pdf', file_data: `data:application/pdf;base64,${expectString(src['data'], `${param}.source.data`)}` } };
  }
  if (src['type'] === 'text') return { type: 'text', text: expectString(src['data'], `${param}.source.data`) };
  throw new TranslateError('unsupported_content', 'only base64 PDF and text documents are supported', `${param}.source`);
}

function blocks(content: unknown, param: string): Json[] {
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', text: content }];
  return expectArray(content, param).map((b, i) => expectObject(b, `${param}[${i}]`));
}

function toolResultText(block: Json, param: string, images: OpenAIContentPart[]): string {
  const parts: string[] = [];
  blocks(block['content'] ?? '', `${param}.content`).forEach((b, i) => {
    const p = `${param}.content[${i}]`;
    if (b['type'] === 'text') parts.push(expectString(b['text'], `${p}.text`));
    // OpenAI tool messages are text-only: images ride along in the following user message.
    else if (b['type'] === 'image') images.push({ type: 'image_url', image_url: { url: imageUrl(b, p) } });
    else throw new TranslateError('unsupported_content', `tool_result content type ${JSON.stringify(b['type'])} is not supported`, `${p}.type`);
  });
  const text = parts.join('\n');
  // OpenAI has no is_error flag; say it in the content so the model still learns the call failed.
  return block['is_error'] === true ? `Error: ${text}` : text;
}

function userMessages(content: unknown, param: string): OpenAIMessage[] {
  const tools: OpenAIMessage[] = [];
  const parts: OpenAIContentPart[] = [];
  const toolImages: OpenAIContentPart[] = [];
  blocks(content, param).forEach((b, i) => {
    const p = `${param}[${i}]`;
    switch (b['type']) {
      case 'text':
        parts.push({ type: 'text', text: expectString(b['text'], `${p}.text`) });
        break;
      case 'image':
        parts.push({ type: 'image_url', image_url: { url: imageUrl(b, p) } });
        break;
      case 'document':
        parts.push(documentPart(b, p));
        break;
      case 'tool_result':
        tools.push({ role: 'tool', tool_call_id: expectString(b['tool_use_id'], `${p}.tool_use_id`), content: toolResultText(b, p, toolImages) });
        break;
      default:
        throw new TranslateError('unsupported_content', `content block type ${JSON.stringify(b['type'])} is not supported`, `${p}.type`);
    }
  });
  // tool messages must directly follow the assistant turn that called them
  const rest = [...toolImages, ...parts];
  if (rest.length === 0) return tools;
  const only = rest.length === 1 ? rest[0] : undefined;
  return [...tools, { role: 'user', content: only?.type === 'text' ? only.text : rest }];
}

function assistantMessage(content: unknown, param: string): OpenAIMessage | undefined {
  const text: string[] = [];
  const calls: OpenAIToolCall[] = [];
  blocks(content, param).forEach((b, i) => {
    const p = `${param}[${i}]`;
    if (b['type'] === 'text') text.push(expectString(b['text'], `${p}.text`));
    else if (b['type'] === 'tool_use') {
      const input = b['input'] ?? {};
      calls.push({ id: expectString(b['id'], `${p}.id`), type: 'function', function: { name: expectString(b['name'], `${p}.name`), arguments: JSON.stringify(input) } });
    } else if (b['type'] !== 'thinking' && b['type'] !== 'redacted_thinking') {
      // thinking blocks are signed Anthropic-internal state another model cannot use; others are not expressible
      throw new TranslateError('unsupported_content', `content block type ${JSON.stringify(b['type'])} is not supported`, `${p}.type`);
    }
  });
  if (text.length === 0 && calls.length === 0) return undefined;
  const msg: OpenAIMessage = { role: 'assistant', content: text.length > 0 ? text.join('') : null };
  if (calls.length > 0) msg.tool_calls = calls;
  return msg;
}

function systemText(raw: unknown): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  const text = blocks(raw, 'system').map((b, i) => {
    if (b['type'] !== 'text') throw new TranslateError('unsupported_content', 'system blocks must be text', `system[${i}].type`);
    return expectString(b['text'], `system[${i}].text`);
  });
  return text.length === 0 ? undefined : text.join('\n\n');
}

function convertTools(raw: unknown): OpenAITool[] | undefined {
  if (raw === undefined || raw === null) return undefined;
  return expectArray(raw, 'tools').map((item, i) => {
    const p = `tools[${i}]`;
    const tool = expectObject(item, p);
    // server tools (web_search_20250305, bash_20250124, ...) run inside Anthropic's API
    if (tool['type'] !== undefined && tool['type'] !== null && tool['type'] !== 'custom') {
      throw new TranslateError('invalid_tool', `tool type ${JSON.stringify(tool['type'])} is only available on Anthropic models`, `${p}.type`);
    }
    const schema = tool['input_schema'];
    if (!isObject(schema)) throw new TranslateError('invalid_tool', 'input_schema must be a JSON schema object', `${p}.input_schema`);
    const fn: OpenAITool['function'] = { name: expectString(tool['name'], `${p}.name`), parameters: schema };
    const description = optString(tool['description'], `${p}.description`);
    if (description !== undefined) fn.description = description;
    return { type: 'function', function: fn };
  });
}

function convertToolChoice(raw: unknown): { choice?: OpenAIToolChoice; parallel?: boolean } {
  if (raw === undefined || raw === null) return {};
  const tc = expectObject(raw, 'tool_choice');
  const parallel = tc['disable_parallel_tool_use'] === true ? { parallel: false } : {};
  switch (tc['type']) {
    case 'auto': return { choice: 'auto', ...parallel };
    case 'any': return { choice: 'required', ...parallel };
    case 'none': return { choice: 'none' };
    case 'tool': return { choice: { type: 'function', function: { name: expectString(tc['name'], 'tool_choice.name') } }, ...parallel };
    default: throw new TranslateError('invalid_tool', `tool_choice type ${JSON.stringify(tc['type'])} is not supported`, 'tool_choice.type');
  }
}

export function anthropicToOpenAIRequest(raw: unknown, opts: AnthropicToOpenAIOptions = {}): AnthropicToOpenAIResult {
  const body = expectObject(raw, '');
  const messages: OpenAIMessage[] = [];
  const system = systemText(body['system']);
  if (system !== undefined) messages.push({ role: 'system', content: system });
  expectArray(body['messages'], 'messages').forEach((item, i) => {
    const p = `messages[${i}]`;
    const msg = expectObject(item, p);
    if (msg['role'] === 'user') messages.push(...userMessages(msg['content'], `${p}.content`));
    else if (msg['role'] === 'assistant') {
      const a = assistantMessage(msg['content'], `${p}.content`);
      if (a !== undefined) messages.push(a);
    } else throw new TranslateError('invalid_request', `unsupported role ${JSON.stringify(msg['role'])}`, `${p}.role`);
  });

  const request: OpenAIChatRequest = { model: opts.model ?? expectString(body['model'], 'model'), messages };
  const maxTokens = optNumber(body['max_tokens'], 'max_tokens');
  if (maxTokens === undefined) throw new TranslateError('invalid_request', 'max_tokens is required', 'max_tokens');
  request[opts.maxTokensField ?? 'max_completion_tokens'] = maxTokens;
  const temperature = optNumber(body['temperature'], 'temperature');
  if (temperature !== undefined) request.temperature = temperature;
  const topP = optNumber(body['top_p'], 'top_p');
  if (topP !== undefined) request.top_p = topP;
  const stop = body['stop_sequences'];
  if (stop !== undefined && stop !== null) {
    const list = expectArray(stop, 'stop_sequences').map((s, i) => expectString(s, `stop_sequences[${i}]`));
    if (list.length > 0) request.stop = list;
  }
  const tools = convertTools(body['tools']);
  if (tools !== undefined && tools.length > 0) request.tools = tools;
  const { choice, parallel } = convertToolChoice(body['tool_choice']);
  if (choice !== undefined && request.tools !== undefined) request.tool_choice = choice;
  if (parallel !== undefined && request.tools !== undefined) request.parallel_tool_calls = parallel;
  const metadata = body['metadata'];
  const user = isObject(metadata) ? optString(metadata['user_id'], 'metadata.user_id') : undefined;
  if (user !== undefined) request.user = user;
  if (optBoolean(body['stream'], 'stream') === true) {
    request.stream = true;
    // the Anthropic stream must end with usage, which OpenAI only sends when asked
    request.stream_options = { include_usage: true };
  }
  return { request, ignoredParams: IGNORED.filter((f) => body[f] !== undefined && body[f] !== null) };
}
