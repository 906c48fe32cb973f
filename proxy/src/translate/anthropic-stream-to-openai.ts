// Anthropic Messages SSE → OpenAI chat.completion.chunk SSE, fed raw upstream bytes.
// Event order per https://docs.anthropic.com/en/docs/build-with-claude/streaming:
// message_start, (content_block_start, content_block_delta*, content_block_stop)*, message_delta,
// message_stop; ping and error may appear anywhere.
import type { AnthropicUsage } from './types-anthropic.ts';
import type { OpenAIChatCompletion, OpenAIChunkDelta, OpenAIErrorBody, OpenAIFinishReason, OpenAIToolCall } from './types-openai.ts';
import { buildOpenAIMessage } from './anthropic-to-openai-response.ts';
import { anthropicErrorToOpenAI } from './error-mapping.ts';
import { isObject, num, type Json } from './guards.ts';
import { SseParser, sseFrame, type SseEvent } from './sse.ts';
import { chunkFrame, eachEvent, usageFrame } from './openai-chunks.ts';
import { anthropicStopToFinish, normalizeAnthropicUsage, toOpenAIUsage, type NormalizedUsage } from './usage.ts';

export interface AnthropicStreamToOpenAIOptions {
  /** the client's stream_options.include_usage: adds `usage: null` to chunks and a final usage chunk */
  includeUsage: boolean;
  /** thinking deltas → delta.reasoning_content (default true); false drops them */
  includeReasoning?: boolean;
  /** upstream pings → SSE comments, which keep idle connections alive (default true) */
  forwardPings?: boolean;
  /** unix seconds for `created` */
  created: number;
}

export interface StreamResult<M, E> {
  /** the upstream finished normally (message_stop / [DONE]) */
  completed: boolean;
  usage: NormalizedUsage;
  /** the upstream never reported complete usage: the caller should estimate tokens */
  usageMissing: boolean;
  finishReason: string | null;
  upstreamModel: string | null;
  id: string | null;
  /** the whole answer assembled from the deltas, in the client's non-streaming shape */
  message: M;
  /** set when the stream carried an error event, was malformed, or was cut short */
  error: E | null;
}

type BlockState = { kind: 'text' } | { kind: 'thinking' } | { kind: 'tool'; toolIndex: number } | { kind: 'other' };

export class AnthropicToOpenAIStream {
  readonly #opts: AnthropicStreamToOpenAIOptions;
  readonly #parser = new SseParser();
  #id = '';
  #model = '';
  #usage: Partial<AnthropicUsage> = {};
  #startUsage = false;
  #deltaUsage = false;
  #finish: OpenAIFinishReason | null = null;
  #blocks = new Map<number, BlockState>();
  #text: string[] = [];
  #reasoning: string[] = [];
  #tools: OpenAIToolCall[] = [];
  #completed = false;
  #error: OpenAIErrorBody | null = null;

  constructor(opts: AnthropicStreamToOpenAIOptions) {
    this.#opts = opts;
  }

  /** Feeds upstream bytes; returns the OpenAI SSE bytes to send to the client (maybe empty). */
  push(chunk: Uint8Array): Buffer {
    return this.#run(this.#parser.push(chunk));
  }

  /** Upstream closed. A stream cut before message_stop gets an error object so the client knows. */
  end(): Buffer {
    const out = this.#run(this.#parser.end());
    if (this.#completed || this.#error !== null) return out;
    const tail = this.#fail({ error: { message: 'upstream stream ended before message_stop', type: 'server_error', param: null, code: 'upstream_stream_truncated' } });
    return Buffer.concat([out, Buffer.from(tail)]);
  }

  result(): StreamResult<OpenAIChatCompletion, OpenAIErrorBody> {
    const usage = normalizeAnthropicUsage(this.#usage);
    const usageMissing = !(this.#startUsage && this.#deltaUsage);
    const message: OpenAIChatCompletion = {
      id: this.#id,
      object: 'chat.completion',
      created: this.#opts.created,
      model: this.#model,
      choices: [{ index: 0, message: buildOpenAIMessage(this.#text, this.#tools, this.#reasoning, this.#opts.includeReasoning ?? true), logprobs: null, finish_reason: this.#finish }],
    };
    if (!usageMissing) message.usage = toOpenAIUsage(usage);
    return {
      completed: this.#completed,
      usage,
      usageMissing,
      finishReason: this.#finish,
      upstreamModel: this.#model === '' ? null : this.#model,
      id: this.#id === '' ? null : this.#id,
      message,
      error: this.#error,
    };
  }

  #run(events: SseEvent[]): Buffer {
    return eachEvent(events, () => this.#completed || this.#error !== null, (data) => this.#event(data), (body) => this.#fail(body));
  }

  #chunk(delta: OpenAIChunkDelta, finish: OpenAIFinishReason | null = null): string {
    return chunkFrame({ id: this.#id, created: this.#opts.created, model: this.#model, includeUsage: this.#opts.includeUsage }, delta, finish);
  }

  #fail(body: OpenAIErrorBody): string {
    this.#error = body;
    return sseFrame(JSON.stringify(body));
  }

  #mergeUsage(u: unknown): boolean {
    if (!isObject(u)) return false;
    for (const k of ['input_tokens', 'output_tokens', 'cache_creation_input_tokens', 'cache_read_input_tokens'] as const) {
      if (typeof u[k] === 'number') this.#usage[k] = u[k];
    }
    // The TTL split of cache writes (message_start has it; a later event may repeat it).
    if (isObject(u['cache_creation'])) this.#usage.cache_creation = u['cache_creation'] as AnthropicUsage['cache_creation'];
    return typeof u['output_tokens'] === 'number';
  }

  #event(data: Json): string {
    switch (data['type']) {
      case 'message_start': {
        const m = isObject(data['message']) ? data['message'] : {};
        this.#id = typeof m['id'] === 'string' ? m['id'] : '';
        this.#model = typeof m['model'] === 'string' ? m['model'] : '';
        this.#startUsage = isObject(m['usage']) && typeof m['usage']['input_tokens'] === 'number';
        this.#mergeUsage(m['usage']);
        return this.#chunk({ role: 'assistant', content: '' });
      }
      case 'content_block_start':
        return this.#blockStart(num(data['index']), isObject(data['content_block']) ? data['content_block'] : {});
      case 'content_block_delta':
        return this.#blockDelta(num(data['index']), isObject(data['delta']) ? data['delta'] : {});
      case 'content_block_stop':
        return this.#blockStop(num(data['index']));
      case 'message_delta': {
        const d = isObject(data['delta']) ? data['delta'] : {};
        this.#finish = anthropicStopToFinish(d['stop_reason']);
        if (this.#mergeUsage(data['usage'])) this.#deltaUsage = true;
        return this.#chunk({}, this.#finish);
      }
      case 'message_stop': {
        this.#completed = true;
        let out = '';
        // Without upstream usage we send no usage chunk rather than invented zeros; the caller
        // sees usageMissing and estimates for its own records.
        if (this.#opts.includeUsage && this.#startUsage && this.#deltaUsage) {
          out += usageFrame({ id: this.#id, created: this.#opts.created, model: this.#model, includeUsage: true }, toOpenAIUsage(normalizeAnthropicUsage(this.#usage)));
        }
        return out + sseFrame('[DONE]');
      }
      case 'error':
        return this.#fail(anthropicErrorToOpenAI(0, data).body);
      case 'ping':
        return this.#opts.forwardPings === false ? '' : ': ping\n\n';
      default:
        // unknown future event types are skipped, as the docs advise
        return '';
    }
  }

  #blockStart(index: number, block: Json): string {
    switch (block['type']) {
      case 'text': {
        this.#blocks.set(index, { kind: 'text' });
        const text = typeof block['text'] === 'string' ? block['text'] : '';
        if (text === '') return '';
        this.#text.push(text);
        return this.#chunk({ content: text });
      }
      case 'thinking':
        this.#blocks.set(index, { kind: 'thinking' });
        return '';
      case 'tool_use': {
        const toolIndex = this.#tools.length;
        const call: OpenAIToolCall = { id: String(block['id'] ?? ''), type: 'function', function: { name: String(block['name'] ?? ''), arguments: '' } };
        this.#tools.push(call);
        this.#blocks.set(index, { kind: 'tool', toolIndex });
        return this.#chunk({ tool_calls: [{ index: toolIndex, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } }] });
      }
      default:
        this.#blocks.set(index, { kind: 'other' });
        return '';
    }
  }

  /** A tool called without arguments streams no JSON; OpenAI clients expect "{}", not "". */
  #blockStop(index: number): string {
    const block = this.#blocks.get(index);
    if (block?.kind !== 'tool') return '';
    const call = this.#tools[block.toolIndex]!;
    if (call.function.arguments !== '') return '';
    call.function.arguments = '{}';
    return this.#chunk({ tool_calls: [{ index: block.toolIndex, function: { arguments: '{}' } }] });
  }

  #blockDelta(index: number, delta: Json): string {
    const block = this.#blocks.get(index);
    if (delta['type'] === 'text_delta' && block?.kind === 'text' && typeof delta['text'] === 'string') {
      this.#text.push(delta['text']);
      return this.#chunk({ content: delta['text'] });
    }
    if (delta['type'] === 'thinking_delta' && block?.kind === 'thinking' && typeof delta['thinking'] === 'string') {
      this.#reasoning.push(delta['thinking']);
      return this.#opts.includeReasoning === false ? '' : this.#chunk({ reasoning_content: delta['thinking'] });
    }
    if (delta['type'] === 'input_json_delta' && block?.kind === 'tool' && typeof delta['partial_json'] === 'string') {
      const json = delta['partial_json'];
      if (json === '') return '';
      this.#tools[block.toolIndex]!.function.arguments += json;
      return this.#chunk({ tool_calls: [{ index: block.toolIndex, function: { arguments: json } }] });
    }
    // signature_delta, citations_delta: no OpenAI counterpart
    return '';
  }
}
