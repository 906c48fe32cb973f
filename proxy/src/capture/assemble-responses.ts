// Keeps what matters of an OpenAI Responses API stream: the final `response` object of
// response.completed / response.incomplete / response.failed (output, usage, status) — or,
// when the stream was cut before it, the model and the output text deltas seen so far.

import { TextBudget } from './text-budget.ts';

type Json = Record<string, unknown>;

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

const FINAL = new Set(['response.completed', 'response.incomplete', 'response.failed']);

export class ResponsesAssembler {
  chunks = 0;
  model = '';
  usage: Json | null = null;
  private id = '';
  private final: Json | null = null;
  /** Set by a final event only: a stream cut before one has no finish reason. */
  private status = '';
  private lastStatus = '';
  private readonly text: string[] = [];
  /** Bounds the text kept (see text-budget.ts). */
  readonly budget = new TextBudget();

  add(value: unknown): boolean {
    if (!isObj(value)) return false;
    this.chunks++;
    const type = value['type'];
    const r = isObj(value['response']) ? value['response'] : null;
    if (r) {
      if (typeof r['model'] === 'string') this.model = r['model'];
      if (typeof r['id'] === 'string') this.id = r['id'];
      if (typeof r['status'] === 'string') this.lastStatus = r['status'];
    }
    if (type === 'response.output_text.delta' && typeof value['delta'] === 'string') this.text.push(this.budget.keep(value['delta']));
    else if (typeof type === 'string' && FINAL.has(type) && r) {
      this.final = r;
      this.status = this.lastStatus;
      if (isObj(r['usage'])) this.usage = r['usage'];
      const reason = isObj(r['incomplete_details']) ? r['incomplete_details']['reason'] : undefined;
      if (typeof reason === 'string') this.status = reason;
    }
    return false;
  }

  /** `completed`, or why the response is incomplete (`max_output_tokens`, ...), or `failed`. */
  get finishReason(): string {
    return this.status;
  }

  outputText(): string {
    return this.text.join('');
  }

  toJSON(): Json {
    return this.final ?? { id: this.id, object: 'response', model: this.model, status: this.lastStatus || 'incomplete', output_text: this.text.join('') };
  }
}
