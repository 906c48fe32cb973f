// Bedrock ConverseStream events (as bedrock-stream.ts writes them: `event: <eventType>` with the
// frame's JSON) → OpenAI chat.completion.chunk SSE. Bedrock's order: messageStart,
// (contentBlockStart?, contentBlockDelta*, contentBlockStop)*, messageStop, metadata {usage};
// an exception (`event: throttlingException`, …) may come anywhere and ends the stream with
// OpenAI's in-stream error object. The finish chunk goes out at messageStop, the usage chunk
// (stream_options.include_usage) and [DONE] at metadata.
// https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html
import {
  SseParser, emptyUsage, sseFrame, toOpenAIUsage,
  type NormalizedUsage, type OpenAIChatCompletion, type OpenAIChunkDelta, type OpenAIErrorBody, type OpenAIFinishReason, type OpenAIToolCall, type SseEvent, type StreamResult,
} from '../translate/index.ts';
import { chunkFrame, eachEvent, usageFrame, type ChunkMeta } from '../translate/openai-chunks.ts';
import { buildOpenAIMessage } from '../translate/anthropic-to-openai-response.ts';
import { isObject, num, type Json } from '../translate/guards.ts';
import { bedrockError } from './bedrock-stream.ts';
import { converseFinish, converseUsage, openaiErrorOf } from './converse-response.ts';

/** The answer's id, model and time, and whether the client asked for the usage chunk. */
export type ConverseStreamOptions = ChunkMeta;

export class ConverseToOpenAIStream {
  readonly #opts: ConverseStreamOptions;
  readonly #parser = new SseParser();
  /** Content block index → tool call index, for the blocks that are tool calls. */
  readonly #toolOf = new Map<number, number>();
  readonly #text: string[] = [];
  readonly #reasoning: string[] = [];
  readonly #tools: OpenAIToolCall[] = [];
  #finish: OpenAIFinishReason | null = null;
  #usage: NormalizedUsage | null = null;
  #completed = false;
  #error: OpenAIErrorBody | null = null;

  constructor(opts: ConverseStreamOptions) {
    this.#opts = opts;
  }

  push(chunk: Uint8Array): Buffer {
    return this.#run(this.#parser.push(chunk));
  }

  /** Upstream closed: after messageStop without metadata the answer is whole (no usage); before it, cut short. */
  end(): Buffer {
    let out = this.#run(this.#parser.end()).toString('utf8');
    if (!this.#completed && this.#error === null) {
      if (this.#finish !== null) {
        this.#completed = true;
        out += sseFrame('[DONE]');
      } else {
        out += this.#fail({ error: { message: 'upstream stream ended before messageStop', type: 'server_error', param: null, code: 'upstream_stream_truncated' } });
      }
    }
    return Buffer.from(out);
  }

  result(): StreamResult<OpenAIChatCompletion, OpenAIErrorBody> {
    const message: OpenAIChatCompletion = {
      id: this.#opts.id,
      object: 'chat.completion',
      created: this.#opts.created,
      model: this.#opts.model,
      choices: [{ index: 0, message: buildOpenAIMessage(this.#text, this.#tools, this.#reasoning, true), logprobs: null, finish_reason: this.#finish }],
    };
    if (this.#usage) message.usage = toOpenAIUsage(this.#usage);
    return {
      completed: this.#completed,
      usage: this.#usage ?? emptyUsage(),
      usageMissing: this.#usage === null,
      finishReason: this.#finish,
      upstreamModel: this.#opts.model,
      id: this.#opts.id,
      message,
      error: this.#error,
    };
  }

  #run(events: SseEvent[]): Buffer {
    return eachEvent(events, () => this.#completed || this.#error !== null, (data, ev) => this.#event(ev.event ?? '', data), (body) => this.#fail(body));
  }

  #chunk(delta: OpenAIChunkDelta, finish: OpenAIFinishReason | null = null): string {
    return chunkFrame(this.#opts, delta, finish);
  }

  #fail(body: OpenAIErrorBody): string {
    this.#error = body;
    return sseFrame(JSON.stringify(body));
  }

  #event(type: string, data: Json): string {
    switch (type) {
      case 'messageStart':
        return this.#chunk({ role: 'assistant', content: '' });
      case 'contentBlockStart': {
        const start = isObject(data['start']) ? data['start'] : {};
        if (!isObject(start['toolUse'])) return '';
        const t = start['toolUse'];
        const index = this.#tools.length;
        const call: OpenAIToolCall = { id: String(t['toolUseId'] ?? ''), type: 'function', function: { name: String(t['name'] ?? ''), arguments: '' } };
        this.#tools.push(call);
        this.#toolOf.set(num(data['contentBlockIndex']), index);
        return this.#chunk({ tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } }] });
      }
      case 'contentBlockDelta':
        return this.#delta(num(data['contentBlockIndex']), isObject(data['delta']) ? data['delta'] : {});
      case 'messageStop':
        this.#finish = converseFinish(data['stopReason']);
        return this.#chunk({}, this.#finish);
      case 'metadata':
        return this.#metadata(data);
      case 'contentBlockStop':
        return '';
      default: {
        if (!/Exception$/.test(type)) return ''; // events Bedrock may add later are skipped
        const message = typeof data['message'] === 'string' ? data['message'] : type;
        return this.#fail(openaiErrorOf(bedrockError(type, 0, message)));
      }
    }
  }

  #delta(blockIndex: number, delta: Json): string {
    if (typeof delta['text'] === 'string') {
      this.#text.push(delta['text']);
      return this.#chunk({ content: delta['text'] });
    }
    const index = this.#toolOf.get(blockIndex);
    if (isObject(delta['toolUse']) && index !== undefined) {
      const args = String(delta['toolUse']['input'] ?? '');
      this.#tools[index]!.function.arguments += args;
      return this.#chunk({ tool_calls: [{ index, function: { arguments: args } }] });
    }
    const reasoning = isObject(delta['reasoningContent']) ? delta['reasoningContent']['text'] : undefined;
    if (typeof reasoning === 'string') {
      this.#reasoning.push(reasoning);
      return this.#chunk({ reasoning_content: reasoning });
    }
    return '';
  }

  #metadata(data: Json): string {
    this.#usage = converseUsage(data['usage']);
    if (this.#finish === null) return ''; // metadata before messageStop: the answer is not over yet
    this.#completed = true;
    const usage = this.#opts.includeUsage && this.#usage ? usageFrame(this.#opts, toOpenAIUsage(this.#usage)) : '';
    return usage + sseFrame('[DONE]');
  }
}
