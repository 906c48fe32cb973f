// Rebuilds an Anthropic Messages response from its SSE events (message_start, content_block_*,
// message_delta, message_stop, ping, error), so a streamed call is stored like a non-stream
// one: text, thinking (with signature), tool_use input, stop_reason, model and usage — input
// and cache counts from message_start, output (and any revised counts) from message_delta.

import { TextBudget } from './text-budget.ts';

type Json = Record<string, unknown>;

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

interface Block {
  value: Json;
  /** input_json_delta pieces of a tool_use block, parsed at the end. */
  json: string[] | null;
}

export class AnthropicAssembler {
  chunks = 0;
  model = '';
  /** Merged usage; null until message_start or message_delta reported one. */
  usage: Json | null = null;
  error: Json | null = null;
  private message: Json = {};
  private stop = '';
  private readonly blocks: Block[] = [];
  /** Bounds the text kept (see text-budget.ts). */
  readonly budget = new TextBudget();

  /** Feed one parsed `data:` JSON event. Never a usage-only chunk to withhold (returns false). */
  add(value: unknown): boolean {
    if (!isObj(value)) return false;
    this.chunks++;
    switch (value['type']) {
      case 'message_start': {
        const m = isObj(value['message']) ? value['message'] : {};
        this.message = { ...m, content: [] };
        if (typeof m['model'] === 'string') this.model = m['model'];
        if (isObj(m['usage'])) this.mergeUsage(m['usage']);
        break;
      }
      case 'content_block_start': {
        const cb = isObj(value['content_block']) ? value['content_block'] : {};
        const block: Block = { value: { ...cb }, json: cb['type'] === 'tool_use' || cb['type'] === 'server_tool_use' ? [] : null };
        this.blocks[typeof value['index'] === 'number' ? value['index'] : this.blocks.length] = block;
        break;
      }
      case 'content_block_delta':
        this.delta(typeof value['index'] === 'number' ? value['index'] : -1, isObj(value['delta']) ? value['delta'] : {});
        break;
      case 'message_delta': {
        const d = isObj(value['delta']) ? value['delta'] : {};
        if (typeof d['stop_reason'] === 'string') this.stop = d['stop_reason'];
        if (d['stop_sequence'] !== undefined) this.message['stop_sequence'] = d['stop_sequence'];
        if (isObj(value['usage'])) this.mergeUsage(value['usage']);
        break;
      }
      case 'error':
        this.error = isObj(value['error']) ? value['error'] : value;
        break;
      default:
        // ping, message_stop, content_block_stop and future events carry nothing to keep.
        break;
    }
    return false;
  }

  private mergeUsage(u: Json): void {
    const merged: Json = this.usage ?? {};
    // message_delta repeats counts as null when unchanged: only numbers overwrite.
    for (const [k, v] of Object.entries(u)) if (typeof v === 'number' || (isObj(v) && !(k in merged))) merged[k] = v;
    this.usage = merged;
  }

  private delta(index: number, d: Json): void {
    const b = this.blocks[index];
    if (!b) return;
    const v = b.value;
    const append = (field: string, piece: unknown): void => {
      if (typeof piece === 'string') v[field] = (typeof v[field] === 'string' ? v[field] : '') + this.budget.keep(piece);
    };
    switch (d['type']) {
      case 'text_delta': append('text', d['text']); break;
      case 'thinking_delta': append('thinking', d['thinking']); break;
      case 'signature_delta': append('signature', d['signature']); break;
      case 'input_json_delta': if (typeof d['partial_json'] === 'string') b.json?.push(this.budget.keep(d['partial_json'])); break;
      case 'citations_delta': v['citations'] = [...(Array.isArray(v['citations']) ? v['citations'] : []), d['citation']]; break;
      default: break;
    }
  }

  get finishReason(): string {
    return this.stop;
  }

  /** Generated text (text, thinking, tool input), for token estimates. */
  outputText(): string {
    let s = '';
    for (const b of this.blocks) {
      if (!b) continue;
      const v = b.value;
      if (typeof v['text'] === 'string') s += v['text'];
      if (typeof v['thinking'] === 'string') s += v['thinking'];
      if (b.json) s += String(v['name'] ?? '') + b.json.join('');
    }
    return s;
  }

  /** The assembled message, shaped like the non-stream API's. */
  toJSON(): Json {
    const content = this.blocks.filter(Boolean).map((b) => {
      if (!b.json) return b.value;
      const text = b.json.join('');
      let input: unknown = isObj(b.value['input']) ? b.value['input'] : {};
      if (text !== '') {
        try {
          input = JSON.parse(text);
        } catch {
          input = text; // cut short: keep what came
        }
      }
      return { ...b.value, input };
    });
    const out: Json = { ...this.message, content, stop_reason: this.stop || null };
    if (this.usage) out['usage'] = this.usage;
    if (this.error) out['error'] = this.error;
    return out;
  }
}
