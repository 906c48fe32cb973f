// OpenAI chat request → Bedrock Converse request. Pure. The client body is read and checked by
// the OpenAI → Anthropic translator (system gathering, same-role turns merged, data: images,
// tools, tool_choice, its refusals of n>1, logprobs, audio, …) and the Messages request it
// yields is re-written block by block as Converse's: the two have the same structure, and one
// reading of OpenAI's request keeps both paths refusing the same things. What Converse adds or
// lacks on top is decided here: response_format json_schema → outputConfig (Bedrock's structured
// output); json_object and parallel_tool_calls:false are refused, and image URLs (Converse takes
// bytes or S3 only). https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html
import { TranslateError, openaiToAnthropicRequest, type AnthropicRequestBlock, type AnthropicToolChoice } from '../translate/index.ts';
import { expectObject, optNumber, optString } from '../translate/guards.ts';

type Json = Record<string, unknown>;

export interface ConverseRequest {
  messages: { role: 'user' | 'assistant'; content: Json[] }[];
  system?: { text: string }[];
  inferenceConfig?: { maxTokens?: number; temperature?: number; topP?: number; stopSequences?: string[] };
  toolConfig?: { tools: { toolSpec: { name: string; description?: string; inputSchema: { json: Json } } }[]; toolChoice?: Json };
  outputConfig?: { textFormat: { type: 'json_schema'; structure: { jsonSchema: { schema: string; name?: string; description?: string } } } };
}

const unsupported = (message: string, param: string | null): TranslateError => new TranslateError('unsupported_parameter', message, param);

/** response_format as Converse's structured output (undefined: plain text). */
function outputConfig(raw: unknown): ConverseRequest['outputConfig'] {
  if (raw === undefined || raw === null) return undefined;
  const rf = expectObject(raw, 'response_format');
  if (rf['type'] === 'text') return undefined;
  if (rf['type'] === 'json_schema') {
    const js = expectObject(rf['json_schema'], 'response_format.json_schema');
    const schema = expectObject(js['schema'] ?? {}, 'response_format.json_schema.schema');
    const name = optString(js['name'], 'response_format.json_schema.name');
    const description = optString(js['description'], 'response_format.json_schema.description');
    // Bedrock takes the schema as a JSON string.
    return { textFormat: { type: 'json_schema', structure: { jsonSchema: { schema: JSON.stringify(schema), ...(name !== undefined ? { name } : {}), ...(description !== undefined ? { description } : {}) } } } };
  }
  if (rf['type'] === 'json_object') throw unsupported('response_format json_object is not supported by Bedrock Converse (use json_schema)', 'response_format.type');
  throw unsupported(`response_format type ${JSON.stringify(rf['type'])} is not supported`, 'response_format.type');
}

const IMAGE_FORMATS: Readonly<Record<string, string>> = { 'image/jpeg': 'jpeg', 'image/png': 'png', 'image/gif': 'gif', 'image/webp': 'webp' };

/** One Messages block as Converse's content block. */
function block(b: AnthropicRequestBlock, documents: { n: number }): Json {
  switch (b.type) {
    case 'text':
      return { text: b.text };
    case 'image':
      if (b.source.type !== 'base64') throw new TranslateError('unsupported_content', 'Bedrock Converse takes images as base64 data: URLs, not http(s) URLs', 'messages');
      return { image: { format: IMAGE_FORMATS[b.source.media_type] ?? 'png', source: { bytes: b.source.data } } };
    case 'document':
      if (b.source.type !== 'base64') throw new TranslateError('unsupported_content', 'Bedrock Converse takes documents as base64 data only', 'messages');
      // Converse names every document; the name must be unique within the request.
      documents.n += 1;
      return { document: { format: 'pdf', name: `document-${documents.n}`, source: { bytes: b.source.data } } };
    case 'tool_use':
      return { toolUse: { toolUseId: b.id, name: b.name, input: b.input } };
    case 'tool_result': {
      const c = b.content;
      const parts = typeof c === 'string' ? [{ text: c }] : (c ?? []).map((p) => (p.type === 'text' ? { text: p.text } : block(p, documents)));
      return { toolResult: { toolUseId: b.tool_use_id, content: parts, ...(b.is_error === true ? { status: 'error' } : {}) } };
    }
    default:
      throw new TranslateError('unsupported_content', `content of type ${JSON.stringify(b.type)} is not supported by Bedrock Converse`, 'messages');
  }
}

function toolChoice(c: AnthropicToolChoice | undefined): Json | undefined {
  switch (c?.type) {
    case 'any': return { any: {} };
    case 'tool': return { tool: { name: c.name } };
    case 'auto': return { auto: {} };
    default: return undefined;
  }
}

export function openaiToConverseRequest(raw: unknown): ConverseRequest {
  const body = expectObject(raw, '');
  if (body['parallel_tool_calls'] === false) throw unsupported('parallel_tool_calls: false is not supported by Bedrock Converse', 'parallel_tool_calls');
  const output = outputConfig(body['response_format']);
  // The client's max tokens only: Converse, unlike Messages, lets the model decide without one.
  const maxTokens = optNumber(body['max_completion_tokens'], 'max_completion_tokens') ?? optNumber(body['max_tokens'], 'max_tokens');
  const { response_format: _rf, parallel_tool_calls: _ptc, ...rest } = body;
  const { request } = openaiToAnthropicRequest(rest, { model: '' });

  const documents = { n: 0 };
  const out: ConverseRequest = {
    messages: request.messages.map((m) => ({ role: m.role, content: typeof m.content === 'string' ? [{ text: m.content }] : m.content.map((b) => block(b, documents)) })),
  };
  if (typeof request.system === 'string') out.system = [{ text: request.system }];
  else if (request.system !== undefined) out.system = request.system.map((s) => ({ text: s.text }));

  const inference: NonNullable<ConverseRequest['inferenceConfig']> = {};
  if (maxTokens !== undefined) inference.maxTokens = maxTokens;
  if (request.temperature !== undefined) inference.temperature = request.temperature;
  if (request.top_p !== undefined) inference.topP = request.top_p;
  if (request.stop_sequences !== undefined) inference.stopSequences = request.stop_sequences;
  if (Object.keys(inference).length > 0) out.inferenceConfig = inference;

  // tool_choice "none": the model is not to call tools, so none are offered — unless the
  // conversation already holds tool calls or results: Converse refuses toolUse and toolResult
  // blocks without a toolConfig, so the tools are then offered with no choice (it has no "none").
  const toolHistory = out.messages.some((m) => m.content.some((b) => typeof b === 'object' && b !== null && ('toolUse' in b || 'toolResult' in b)));
  if (request.tools !== undefined && (request.tool_choice?.type !== 'none' || toolHistory)) {
    const choice = request.tool_choice?.type === 'none' ? undefined : toolChoice(request.tool_choice);
    out.toolConfig = {
      tools: request.tools.map((t) => ({ toolSpec: { name: t.name, ...(t.description !== undefined ? { description: t.description } : {}), inputSchema: { json: t.input_schema } } })),
      ...(choice !== undefined ? { toolChoice: choice } : {}),
    };
  }
  if (output !== undefined) out.outputConfig = output;
  return out;
}
