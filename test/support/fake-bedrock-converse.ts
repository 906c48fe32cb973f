// The Converse half of the fake Bedrock runtime (fake-bedrock.ts): what Bedrock's Converse and
// ConverseStream take and answer, for models other than Claude. A body is refused as Bedrock
// refuses it (ValidationException): unknown top-level keys, `model`/`stream`/`anthropic_version`,
// turns that do not alternate or do not start with a user turn, a content block with other
// than exactly one member, toolUse/toolResult without a toolConfig. Answers: the Converse JSON;
// a stream as ConverseStream's events (messageStart, contentBlockStart/Delta/Stop, messageStop,
// metadata with usage and metrics), each a binary eventstream frame.
// https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html
import { eventFrame } from './aws-eventstream.ts';

export interface ConverseBehaviour {
  toolUse?: { name: string; input: Record<string, unknown> };
  /** The stopReason to report (default end_turn, or tool_use with a tool call). */
  stopReason?: string;
}

export const FAKE_CONVERSE_USAGE = { inputTokens: 21, outputTokens: 9, cacheReadInputTokens: 40, cacheWriteInputTokens: 5, totalTokens: 75 };
export const FAKE_TOOL_USE_ID = 'tooluse_fakeConverse1';

const TOP_LEVEL = new Set(['messages', 'system', 'inferenceConfig', 'toolConfig', 'guardrailConfig', 'additionalModelRequestFields', 'promptVariables', 'additionalModelResponseFieldPaths', 'requestMetadata', 'performanceConfig', 'outputConfig']);
const INFERENCE = new Set(['maxTokens', 'temperature', 'topP', 'stopSequences']);

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Why Bedrock would refuse this Converse body (null: it would not). */
export function converseProblem(body: Json): string | null {
  for (const k of Object.keys(body)) if (!TOP_LEVEL.has(k)) return `Malformed input request: extraneous key [${k}] is not permitted`;
  const messages = body['messages'];
  if (!Array.isArray(messages) || messages.length === 0) return 'messages is required';
  let usesTools = false;
  for (const [i, m] of (messages as unknown[]).entries()) {
    if (!isObject(m) || !Array.isArray(m['content'])) return `messages.${i} is malformed`;
    if (m['role'] !== (i % 2 === 0 ? 'user' : 'assistant')) return 'A conversation must start with a user message and alternate between user and assistant roles.';
    for (const b of m['content'] as unknown[]) {
      if (!isObject(b) || Object.keys(b).length !== 1) return `messages.${i}.content: a content block has exactly one member`;
      if ('toolUse' in b || 'toolResult' in b) usesTools = true;
    }
  }
  if (usesTools && !isObject(body['toolConfig'])) return 'The toolConfig field must be defined when using toolUse and toolResult content blocks.';
  const inf = body['inferenceConfig'];
  if (inf !== undefined && (!isObject(inf) || Object.keys(inf).some((k) => !INFERENCE.has(k)))) return 'inferenceConfig has an unknown key';
  return null;
}

function lastUserText(body: Json): string {
  const messages = body['messages'] as Json[];
  for (let i = messages.length - 1; i >= 0; i--) {
    const t = (messages[i]!['content'] as Json[]).find((b) => typeof b['text'] === 'string');
    if (messages[i]!['role'] === 'user' && t) return String(t['text']);
  }
  return '';
}

const replyText = (body: Json): string => `Fake reply to: ${lastUserText(body)}`;
const stopOf = (b: ConverseBehaviour): string => b.stopReason ?? (b.toolUse ? 'tool_use' : 'end_turn');

/** Converse's JSON answer. */
export function converseAnswer(body: Json, b: ConverseBehaviour): Json {
  const content = b.toolUse ? [{ toolUse: { toolUseId: FAKE_TOOL_USE_ID, name: b.toolUse.name, input: b.toolUse.input } }] : [{ text: replyText(body) }];
  return { output: { message: { role: 'assistant', content } }, stopReason: stopOf(b), usage: { ...FAKE_CONVERSE_USAGE }, metrics: { latencyMs: 321 } };
}

/** One ConverseStream event frame. */
export const converseFrame = (type: string, payload: Json): Buffer => eventFrame({ ':event-type': type, ':content-type': 'application/json', ':message-type': 'event' }, payload);

/** ConverseStream's events for the same answer, as frames (Bedrock pads payloads with `p`). */
export function converseStreamFrames(body: Json, b: ConverseBehaviour): Buffer[] {
  const frames = [converseFrame('messageStart', { role: 'assistant', p: 'abcdefgh' })];
  if (b.toolUse) {
    const input = JSON.stringify(b.toolUse.input);
    frames.push(converseFrame('contentBlockStart', { contentBlockIndex: 0, start: { toolUse: { toolUseId: FAKE_TOOL_USE_ID, name: b.toolUse.name } }, p: 'abc' }));
    for (let i = 0; i < input.length; i += 7) frames.push(converseFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { toolUse: { input: input.slice(i, i + 7) } }, p: 'ab' }));
  } else {
    const text = replyText(body);
    for (let i = 0; i < text.length; i += 5) frames.push(converseFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: text.slice(i, i + 5) }, p: 'abcd' }));
  }
  frames.push(converseFrame('contentBlockStop', { contentBlockIndex: 0, p: 'a' }));
  frames.push(converseFrame('messageStop', { stopReason: stopOf(b), p: 'abcdef' }));
  frames.push(converseFrame('metadata', { usage: { ...FAKE_CONVERSE_USAGE }, metrics: { latencyMs: 321 }, p: 'abc' }));
  return frames;
}
