// Rebuilds the non-stream response shape from OpenAI stream chunks, so a streamed call is
// stored like a non-stream one: content, tool_calls deltas, refusal, finish_reason, the model
// the upstream reported and the usage chunk.
import { TextBudget } from './text-budget.ts';

export interface OpenAiUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
  completion_tokens_details?: { reasoning_tokens?: number } | null;
}

interface ToolCallAcc {
  index: number;
  id: string;
  type: string;
  name: string;
  args: string[];
}

interface ChoiceAcc {
  index: number;
  role: string;
  content: string[];
  refusal: string[] | null;
  toolCalls: ToolCallAcc[];
  finishReason: string | null;
}

interface DeltaToolCall {
  index?: number;
  id?: string;
  type?: string;
  function?: { name?: string; arguments?: string };
}

interface StreamChoice {
  index?: number;
  text?: string;
  finish_reason?: string | null;
  delta?: { role?: string; content?: string | null; refusal?: string | null; tool_calls?: DeltaToolCall[] };
}

interface StreamChunk {
  id?: string;
  object?: string;
  created?: number;
  model?: string;
  system_fingerprint?: string | null;
  choices?: StreamChoice[];
  usage?: OpenAiUsage | null;
}

export type StreamKind = 'chat' | 'completions';


export class StreamAssembler {
  readonly kind: StreamKind;
  id = '';
  created = 0;
  model = '';
  systemFingerprint: string | null = null;
  usage: OpenAiUsage | null = null;
  chunks = 0;
  /** Bounds the text kept (see text-budget.ts). */
  readonly budget = new TextBudget();
  private readonly choices: ChoiceAcc[] = [];

  constructor(kind: StreamKind) {
    this.kind = kind;
  }

  /** Feed one parsed `data:` JSON chunk. Returns true when it is a usage-only chunk. */
  add(value: unknown): boolean {
    if (!value || typeof value !== 'object') return false;
    const c = value as StreamChunk;
    this.chunks++;
    if (!this.id && typeof c.id === 'string') this.id = c.id;
    if (!this.created && typeof c.created === 'number') this.created = c.created;
    if (typeof c.model === 'string' && c.model) this.model = c.model;
    if (typeof c.system_fingerprint === 'string') this.systemFingerprint = c.system_fingerprint;
    if (c.usage && typeof c.usage === 'object') this.usage = c.usage;
    const list = c.choices;
    if (!Array.isArray(list)) return false;
    for (const ch of list) this.addChoice(ch);
    return list.length === 0 && !!c.usage;
  }

  private choice(index: number): ChoiceAcc {
    let acc = this.choices.find((x) => x.index === index);
    if (!acc) {
      acc = { index, role: 'assistant', content: [], refusal: null, toolCalls: [], finishReason: null };
      this.choices.push(acc);
    }
    return acc;
  }

  private addChoice(ch: StreamChoice): void {
    if (!ch || typeof ch !== 'object') return;
    const acc = this.choice(typeof ch.index === 'number' ? ch.index : 0);
    if (typeof ch.finish_reason === 'string') acc.finishReason = ch.finish_reason;
    if (typeof ch.text === 'string') acc.content.push(this.budget.keep(ch.text));
    const d = ch.delta;
    if (!d || typeof d !== 'object') return;
    if (typeof d.role === 'string') acc.role = d.role;
    if (typeof d.content === 'string') acc.content.push(this.budget.keep(d.content));
    if (typeof d.refusal === 'string') (acc.refusal ??= []).push(this.budget.keep(d.refusal));
    if (Array.isArray(d.tool_calls)) {
      for (const tc of d.tool_calls) {
        const i = typeof tc.index === 'number' ? tc.index : acc.toolCalls.length;
        let t = acc.toolCalls.find((x) => x.index === i);
        if (!t) {
          t = { index: i, id: '', type: 'function', name: '', args: [] };
          acc.toolCalls.push(t);
        }
        if (typeof tc.id === 'string') t.id = tc.id;
        if (typeof tc.type === 'string') t.type = tc.type;
        if (typeof tc.function?.name === 'string') t.name += tc.function.name;
        if (typeof tc.function?.arguments === 'string') t.args.push(this.budget.keep(tc.function.arguments));
      }
    }
  }

  /** finish_reason of the first choice ('' when none came). */
  get finishReason(): string {
    return this.choices[0]?.finishReason ?? '';
  }

  /** All generated text (content, refusals, tool arguments), for token estimates. */
  outputText(): string {
    let s = '';
    for (const c of this.choices) {
      s += c.content.join('');
      if (c.refusal) s += c.refusal.join('');
      for (const t of c.toolCalls) s += t.name + t.args.join('');
    }
    return s;
  }

  /** The assembled response, shaped like the non-stream API's. */
  toJSON(): Record<string, unknown> {
    const sorted = [...this.choices].sort((a, b) => a.index - b.index);
    if (this.kind === 'completions') {
      return {
        id: this.id,
        object: 'text_completion',
        created: this.created,
        model: this.model,
        choices: sorted.map((c) => ({ index: c.index, text: c.content.join(''), logprobs: null, finish_reason: c.finishReason })),
        ...(this.usage ? { usage: this.usage } : {}),
      };
    }
    return {
      id: this.id,
      object: 'chat.completion',
      created: this.created,
      model: this.model,
      choices: sorted.map((c) => {
        const message: Record<string, unknown> = { role: c.role, content: c.content.length > 0 ? c.content.join('') : null };
        if (c.refusal) message['refusal'] = c.refusal.join('');
        if (c.toolCalls.length > 0) {
          message['tool_calls'] = [...c.toolCalls]
            .sort((a, b) => a.index - b.index)
            .map((t) => ({ id: t.id, type: t.type, function: { name: t.name, arguments: t.args.join('') } }));
        }
        return { index: c.index, message, logprobs: null, finish_reason: c.finishReason };
      }),
      ...(this.usage ? { usage: this.usage } : {}),
      ...(this.systemFingerprint !== null ? { system_fingerprint: this.systemFingerprint } : {}),
    };
  }
}
