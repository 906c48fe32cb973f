// OpenAI chat.completion.chunk SSE → Anthropic Messages SSE, fed raw upstream bytes.
// Emits message_start on the first chunk, one content block per text run or tool call
// (content_block_start/delta/stop), then message_delta (stop_reason, usage) and message_stop
// once the upstream sends [DONE]. The request should set stream_options.include_usage.
import type { AnthropicErrorBody, AnthropicMessage, AnthropicResponseBlock, AnthropicStopReason, AnthropicTextBlock, AnthropicToolUseBlock } from './types-anthropic.ts';
import type { StreamResult } from './anthropic-stream-to-openai.ts';
import { openaiErrorToAnthropic } from './error-mapping.ts';
import { isObject, tryParseJson, type Json } from './guards.ts';
import { SseParser, sseFrame } from './sse.ts';
import { emptyUsage, normalizeOpenAIUsage, openaiFinishToStop, toAnthropicUsage, type NormalizedUsage } from './usage.ts';

export interface OpenAIStreamToAnthropicOptions {
  /** model name reported to the client; defaults to the upstream's */
  model?: string;
  /** input tokens to announce in message_start, before the upstream has reported any */
  estimatedInputTokens?: number;
}

type Open = { index: number; kind: 'text'; block: AnthropicTextBlock } | { index: number; kind: 'tool' };
interface ToolState { index: number; block: AnthropicToolUseBlock; args: string }

export class OpenAIToAnthropicStream {
  readonly #opts: OpenAIStreamToAnthropicOptions;
  readonly #parser = new SseParser();
  #started = false;
  #id = '';
  #model = '';
  #content: AnthropicResponseBlock[] = [];
  #open: Open | null = null;
  #tools = new Map<number, ToolState>();
  #stop: AnthropicStopReason | null = null;
  #finishReason: string | null = null;
  #usage: NormalizedUsage = emptyUsage();
  #usageSeen = false;
  #completed = false;
  #error: AnthropicErrorBody | null = null;

  constructor(opts: OpenAIStreamToAnthropicOptions = {}) {
    this.#opts = opts;
  }

  push(chunk: Uint8Array): Buffer {
    return this.#run(this.#parser.push(chunk));
  }

  /** Upstream closed. Some servers omit [DONE]: a stream that saw finish_reason is still complete. */
  end(): Buffer {
    let out = this.#run(this.#parser.end()).toString();
    if (!this.#completed && this.#error === null) {
      out += this.#finishReason !== null ? this.#finalize() : this.#fail({ type: 'error', error: { type: 'api_error', message: 'upstream stream ended before it finished' } });
    }
    return Buffer.from(out);
  }

  result(): StreamResult<AnthropicMessage, AnthropicErrorBody> {
    const message: AnthropicMessage = {
      id: this.#id, type: 'message', role: 'assistant', model: this.#model, content: this.#content,
      stop_reason: this.#stop, stop_sequence: null, usage: toAnthropicUsage(this.#usage),
    };
    return {
      completed: this.#completed,
      usage: this.#usage,
      usageMissing: !this.#usageSeen,
      finishReason: this.#finishReason,
      upstreamModel: this.#model === '' ? null : this.#model,
      id: this.#id === '' ? null : this.#id,
      message,
      error: this.#error,
    };
  }

  #run(events: { data: string }[]): Buffer {
    let out = '';
    for (const ev of events) {
      if (this.#completed || this.#error !== null) break;
      if (ev.data === '[DONE]') {
        out += this.#finalize();
        break;
      }
      const data = tryParseJson(ev.data);
      if (!isObject(data)) {
        out += this.#fail({ type: 'error', error: { type: 'api_error', message: 'malformed upstream stream event' } });
        break;
      }
      out += isObject(data['error']) ? this.#fail(openaiErrorToAnthropic(0, data).body) : this.#chunk(data);
    }
    return Buffer.from(out);
  }

  #emit(payload: Json): string {
    return sseFrame(JSON.stringify(payload), String(payload['type']));
  }

  #fail(body: AnthropicErrorBody): string {
    this.#error = body;
    return this.#emit(body as unknown as Json);
  }

  #start(data: Json): string {
    if (this.#started) return '';
    this.#started = true;
    this.#id = typeof data['id'] === 'string' ? data['id'] : '';
    this.#model = typeof data['model'] === 'string' ? data['model'] : '';
    return this.#emit({
      type: 'message_start',
      message: {
        id: this.#id, type: 'message', role: 'assistant', model: this.#opts.model ?? this.#model, content: [],
        stop_reason: null, stop_sequence: null,
        usage: { input_tokens: this.#opts.estimatedInputTokens ?? 0, output_tokens: 0 },
      },
    });
  }

  #chunk(data: Json): string {
    let out = this.#start(data);
    if (isObject(data['usage'])) {
      this.#usage = normalizeOpenAIUsage(data['usage']);
      this.#usageSeen = true;
    }
    const choice: unknown = Array.isArray(data['choices']) ? data['choices'].find((c: unknown) => isObject(c) && (c['index'] ?? 0) === 0) : undefined;
    if (!isObject(choice)) return out;
    const delta = isObject(choice['delta']) ? choice['delta'] : {};
    for (const key of ['content', 'refusal'] as const) {
      const text = delta[key];
      if (typeof text === 'string' && text !== '') out += this.#text(text);
      if (key === 'refusal' && typeof text === 'string' && text !== '') this.#stop = 'refusal';
    }
    if (Array.isArray(delta['tool_calls'])) for (const tc of delta['tool_calls']) if (isObject(tc)) out += this.#tool(tc);
    if (typeof choice['finish_reason'] === 'string') {
      this.#finishReason = choice['finish_reason'];
      if (this.#stop !== 'refusal') this.#stop = openaiFinishToStop(choice['finish_reason']);
    }
    return out;
  }

  #close(): string {
    if (this.#open === null) return '';
    const index = this.#open.index;
    this.#open = null;
    return this.#emit({ type: 'content_block_stop', index });
  }

  #text(text: string): string {
    let out = '';
    if (this.#open?.kind !== 'text') {
      out += this.#close();
      const block: AnthropicTextBlock = { type: 'text', text: '' };
      this.#open = { index: this.#content.length, kind: 'text', block };
      this.#content.push(block);
      out += this.#emit({ type: 'content_block_start', index: this.#open.index, content_block: { type: 'text', text: '' } });
    }
    this.#open.block.text += text;
    return out + this.#emit({ type: 'content_block_delta', index: this.#open.index, delta: { type: 'text_delta', text } });
  }

  #tool(tc: Json): string {
    let out = '';
    const key = typeof tc['index'] === 'number' ? tc['index'] : 0;
    const fn = isObject(tc['function']) ? tc['function'] : {};
    let state = this.#tools.get(key);
    if (state === undefined) {
      out += this.#close();
      const index = this.#content.length;
      const block: AnthropicToolUseBlock = {
        type: 'tool_use',
        id: typeof tc['id'] === 'string' ? tc['id'] : `toolu_${this.#id}_${key}`,
        name: typeof fn['name'] === 'string' ? fn['name'] : '',
        input: {},
      };
      state = { index, block, args: '' };
      this.#tools.set(key, state);
      this.#content.push(block);
      this.#open = { index, kind: 'tool' };
      out += this.#emit({ type: 'content_block_start', index, content_block: { ...block } });
    }
    const args = fn['arguments'];
    if (typeof args !== 'string' || args === '') return out;
    state.args += args;
    const parsed = tryParseJson(state.args);
    if (isObject(parsed)) state.block.input = parsed;
    // deltas for an earlier (already stopped) call are rare; they still carry that block's index
    return out + this.#emit({ type: 'content_block_delta', index: state.index, delta: { type: 'input_json_delta', partial_json: args } });
  }

  #finalize(): string {
    this.#completed = true;
    let out = this.#start({});
    out += this.#close();
    this.#stop ??= 'end_turn';
    const usage = toAnthropicUsage(this.#usage);
    out += this.#emit({ type: 'message_delta', delta: { stop_reason: this.#stop, stop_sequence: null }, usage });
    return out + this.#emit({ type: 'message_stop' });
  }
}
