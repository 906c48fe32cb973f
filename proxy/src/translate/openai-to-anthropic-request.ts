// OpenAI chat request → Anthropic Messages request. Pure; throws TranslateError (a 400) for
// anything that cannot be expressed faithfully instead of dropping it.
import type {
  AnthropicMessageParam, AnthropicMessagesRequest, AnthropicRequestBlock, AnthropicTextBlock,
  AnthropicTool, AnthropicToolChoice,
} from './types-anthropic.ts';
import { TranslateError } from './errors.ts';
import { expectArray, expectObject, expectString, isObject, optBoolean, optNumber, optString, tryParseJson } from './guards.ts';
import { textParts, userParts } from './openai-content-to-anthropic.ts';

export interface OpenAIToAnthropicOptions {
  /** max_tokens is required by Anthropic; used when the client sent neither max_tokens field. */
  defaultMaxTokens?: number;
  /** the deployment's model id; defaults to the request's model */
  model?: string;
}

export interface OpenAIToAnthropicResult {
  request: AnthropicMessagesRequest;
  /** accepted client fields with no Anthropic equivalent that only tune sampling or bookkeeping */
  ignoredParams: string[];
}

/** Fields that are dropped because they are hints, not semantics. */
const IGNORED = ['frequency_penalty', 'presence_penalty', 'seed', 'service_tier', 'store', 'metadata', 'reasoning_effort', 'verbosity', 'prompt_cache_key', 'safety_identifier'];

/** Fields that would change what comes back; refusing beats silently answering differently. */
function rejectUnsupported(body: Record<string, unknown>): void {
  const n = optNumber(body['n'], 'n');
  if (n !== undefined && n !== 1) throw new TranslateError('unsupported_parameter', 'n > 1 is not supported by this model', 'n');
  if (body['logprobs'] === true) throw new TranslateError('unsupported_parameter', 'logprobs are not supported by this model', 'logprobs');
  if (body['top_logprobs'] !== undefined && body['top_logprobs'] !== null) throw new TranslateError('unsupported_parameter', 'top_logprobs is not supported by this model', 'top_logprobs');
  if (body['audio'] !== undefined && body['audio'] !== null) throw new TranslateError('unsupported_parameter', 'audio output is not supported by this model', 'audio');
  const modalities = body['modalities'];
  if (Array.isArray(modalities) && modalities.some((m) => m !== 'text')) throw new TranslateError('unsupported_parameter', 'only text output is supported by this model', 'modalities');
  if (isObject(body['logit_bias']) && Object.keys(body['logit_bias']).length > 0) throw new TranslateError('unsupported_parameter', 'logit_bias is not supported by this model', 'logit_bias');
  for (const f of ['functions', 'function_call', 'prediction', 'web_search_options']) {
    if (body[f] !== undefined && body[f] !== null) throw new TranslateError('unsupported_parameter', `${f} is not supported by this model${f.startsWith('function') ? ' (use tools)' : ''}`, f);
  }
}

function toolUseBlocks(toolCalls: unknown, param: string): AnthropicRequestBlock[] {
  if (toolCalls === undefined || toolCalls === null) return [];
  return expectArray(toolCalls, param).map((raw, i) => {
    const p = `${param}[${i}]`;
    const call = expectObject(raw, p);
    if (call['type'] !== undefined && call['type'] !== 'function') throw new TranslateError('invalid_tool', 'only function tool calls are supported', `${p}.type`);
    const fn = expectObject(call['function'], `${p}.function`);
    const args = expectString(fn['arguments'], `${p}.function.arguments`);
    // Models sometimes emit "" for a no-argument call; that means {}.
    const input = args.trim() === '' ? {} : tryParseJson(args);
    if (!isObject(input)) throw new TranslateError('invalid_tool_arguments', 'tool call arguments must be a JSON object', `${p}.function.arguments`);
    return { type: 'tool_use', id: expectString(call['id'], `${p}.id`), name: expectString(fn['name'], `${p}.function.name`), input };
  });
}

function toolResultBlock(msg: Record<string, unknown>, param: string): AnthropicRequestBlock {
  const id = expectString(msg['tool_call_id'], `${param}.tool_call_id`);
  const content = msg['content'];
  if (typeof content === 'string') return { type: 'tool_result', tool_use_id: id, content };
  return { type: 'tool_result', tool_use_id: id, content: textParts(content, `${param}.content`) };
}

/** Appends blocks to the last message when it has the same role: Anthropic requires alternation. */
function pushTurn(out: AnthropicMessageParam[], role: 'user' | 'assistant', blocks: AnthropicRequestBlock[]): void {
  if (blocks.length === 0) return;
  const last = out[out.length - 1];
  if (last?.role === role) {
    const prev = typeof last.content === 'string' ? [{ type: 'text' as const, text: last.content }] : last.content;
    last.content = [...prev, ...blocks];
    return;
  }
  out.push({ role, content: blocks });
}

function convertMessages(raw: unknown): { system: AnthropicTextBlock[]; messages: AnthropicMessageParam[] } {
  const system: AnthropicTextBlock[] = [];
  const messages: AnthropicMessageParam[] = [];
  const list = expectArray(raw, 'messages');
  list.forEach((item, i) => {
    const p = `messages[${i}]`;
    const msg = expectObject(item, p);
    switch (msg['role']) {
      case 'system':
      case 'developer':
        // Anthropic has one top-level system prompt; system messages anywhere are gathered there in order.
        system.push(...textParts(msg['content'], `${p}.content`));
        break;
      case 'user':
        pushTurn(messages, 'user', userParts(msg['content'], `${p}.content`));
        break;
      case 'assistant':
        pushTurn(messages, 'assistant', [
          ...textParts(msg['content'], `${p}.content`, true),
          ...toolUseBlocks(msg['tool_calls'], `${p}.tool_calls`),
        ]);
        break;
      case 'tool':
        // consecutive tool messages (parallel calls) merge into one user turn via pushTurn
        pushTurn(messages, 'user', [toolResultBlock(msg, p)]);
        break;
      default:
        throw new TranslateError('invalid_request', `unsupported role ${JSON.stringify(msg['role'])}`, `${p}.role`);
    }
  });
  if (messages.length === 0) throw new TranslateError('invalid_request', 'at least one user or assistant message is required', 'messages');
  for (const m of messages) {
    const only = m.content.length === 1 ? m.content[0] : undefined;
    if (typeof only === 'object' && only.type === 'text') m.content = only.text;
  }
  return { system, messages };
}

function convertTools(raw: unknown): AnthropicTool[] | undefined {
  if (raw === undefined || raw === null) return undefined;
  return expectArray(raw, 'tools').map((item, i) => {
    const p = `tools[${i}]`;
    const tool = expectObject(item, p);
    if (tool['type'] !== 'function') throw new TranslateError('invalid_tool', `tool type ${JSON.stringify(tool['type'])} is not supported`, `${p}.type`);
    const fn = expectObject(tool['function'], `${p}.function`);
    const name = expectString(fn['name'], `${p}.function.name`);
    if (name === '') throw new TranslateError('invalid_tool', 'tool name must not be empty', `${p}.function.name`);
    const params = fn['parameters'] ?? { type: 'object', properties: {} };
    if (!isObject(params)) throw new TranslateError('invalid_tool', 'parameters must be a JSON schema object', `${p}.function.parameters`);
    const out: AnthropicTool = { name, input_schema: params };
    const description = optString(fn['description'], `${p}.function.description`);
    if (description !== undefined) out.description = description;
    return out;
  });
}

function convertToolChoice(raw: unknown, parallel: boolean | undefined, hasTools: boolean): AnthropicToolChoice | undefined {
  const disable = parallel === false ? { disable_parallel_tool_use: true } : {};
  if (raw === undefined || raw === null) return parallel === false && hasTools ? { type: 'auto', ...disable } : undefined;
  // Anthropic rejects tool_choice without tools; "none"/"auto" then mean the same as omitting it.
  if (!hasTools && (raw === 'none' || raw === 'auto')) return undefined;
  if (!hasTools) throw new TranslateError('invalid_tool', 'tool_choice requires tools', 'tool_choice');
  if (raw === 'none') return { type: 'none' };
  if (raw === 'auto') return { type: 'auto', ...disable };
  if (raw === 'required') return { type: 'any', ...disable };
  if (isObject(raw) && raw['type'] === 'function' && isObject(raw['function'])) {
    return { type: 'tool', name: expectString(raw['function']['name'], 'tool_choice.function.name'), ...disable };
  }
  throw new TranslateError('invalid_tool', 'tool_choice must be none, auto, required or {type:"function",function:{name}}', 'tool_choice');
}

/**
 * Anthropic has no JSON mode: the format becomes a system instruction. This is best effort —
 * the model usually complies but nothing enforces the schema (no constrained decoding).
 */
function responseFormatInstruction(raw: unknown): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  const rf = expectObject(raw, 'response_format');
  if (rf['type'] === 'text') return undefined;
  if (rf['type'] === 'json_object') return 'Respond with a single valid JSON object and nothing else (no prose, no code fences).';
  if (rf['type'] === 'json_schema') {
    const js = expectObject(rf['json_schema'], 'response_format.json_schema');
    return `Respond with a single valid JSON object and nothing else (no prose, no code fences). It must conform to this JSON schema:\n${JSON.stringify(js['schema'] ?? {})}`;
  }
  throw new TranslateError('unsupported_parameter', `response_format type ${JSON.stringify(rf['type'])} is not supported`, 'response_format.type');
}

export function openaiToAnthropicRequest(raw: unknown, opts: OpenAIToAnthropicOptions = {}): OpenAIToAnthropicResult {
  const body = expectObject(raw, '');
  rejectUnsupported(body);
  const { system, messages } = convertMessages(body['messages']);
  const instruction = responseFormatInstruction(body['response_format']);
  if (instruction !== undefined) system.push({ type: 'text', text: instruction });

  const maxTokens = optNumber(body['max_completion_tokens'], 'max_completion_tokens') ?? optNumber(body['max_tokens'], 'max_tokens') ?? opts.defaultMaxTokens ?? 4096;
  const request: AnthropicMessagesRequest = { model: opts.model ?? expectString(body['model'], 'model'), messages, max_tokens: maxTokens };
  if (system.length === 1) request.system = system[0]!.text;
  else if (system.length > 1) request.system = system;

  const stop = body['stop'];
  if (typeof stop === 'string') request.stop_sequences = [stop];
  else if (Array.isArray(stop)) request.stop_sequences = stop.map((s, i) => expectString(s, `stop[${i}]`));
  else if (stop !== undefined && stop !== null) throw new TranslateError('invalid_request', 'stop must be a string or an array of strings', 'stop');

  // OpenAI allows 0–2, Anthropic 0–1: clamp rather than scale so 0.7 means the same to both.
  const temperature = optNumber(body['temperature'], 'temperature');
  if (temperature !== undefined) request.temperature = Math.min(1, Math.max(0, temperature));
  const topP = optNumber(body['top_p'], 'top_p');
  if (topP !== undefined) request.top_p = topP;

  const tools = convertTools(body['tools']);
  if (tools !== undefined && tools.length > 0) request.tools = tools;
  const choice = convertToolChoice(body['tool_choice'], optBoolean(body['parallel_tool_calls'], 'parallel_tool_calls'), request.tools !== undefined);
  if (choice !== undefined) request.tool_choice = choice;

  const user = optString(body['user'], 'user');
  if (user !== undefined) request.metadata = { user_id: user };
  const stream = optBoolean(body['stream'], 'stream');
  if (stream !== undefined) request.stream = stream;

  return { request, ignoredParams: IGNORED.filter((f) => body[f] !== undefined && body[f] !== null) };
}

/** Whether the client asked for the final usage chunk (stream_options.include_usage). */
export function wantsStreamUsage(raw: unknown): boolean {
  return isObject(raw) && isObject(raw['stream_options']) && raw['stream_options']['include_usage'] === true;
}
