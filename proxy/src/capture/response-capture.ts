// What the proxy keeps of an upstream response while teeing it to the client.
// Non-stream: the exact bytes. Stream: SSE events parsed into a StreamAssembler; when the
// proxy itself asked for usage, the usage-only chunk is recognised so it can be withheld.
import { SseSplitter, type SseEvent } from './sse.ts';
import { StreamAssembler, type OpenAiUsage, type StreamKind } from './assemble.ts';
import { AnthropicAssembler } from './assemble-anthropic.ts';
import { ResponsesAssembler } from './assemble-responses.ts';
import { NO_TOKENS, tokensFromUsage, type Tokens } from './usage.ts';
import { scanJsonField } from '@gatelog/core/json/json-scan';

interface ErrorBody {
  error?: { message?: unknown; type?: unknown; code?: unknown } | string;
  model?: unknown;
  usage?: OpenAiUsage;
  choices?: { finish_reason?: unknown; text?: unknown; message?: { content?: unknown } }[];
  /** Anthropic */
  stop_reason?: unknown;
  content?: { text?: unknown; thinking?: unknown; input?: unknown }[];
  /** Responses */
  status?: unknown;
  output_text?: unknown;
  output?: { content?: { text?: unknown }[] }[];
}

/**
 * Wire format of a response, by the API the client spoke. `no_text`: answers whose tokens are
 * never estimated from the body (images, moderations, audio): their usage when reported
 * (gpt-image-1, gpt-4o-transcribe), else 0 tokens (a base64 image or a transcript of audio
 * says nothing of what the upstream billed).
 */
export type CaptureKind = StreamKind | 'anthropic' | 'anthropic_count' | 'responses' | 'embeddings' | 'no_text';

export function captureKind(api: string): CaptureKind {
  switch (api) {
    case 'openai.chat': return 'chat'; // first: the common case pays no extra compare
    case 'openai.completions': return 'completions';
    case 'openai.embeddings': return 'embeddings';
    case 'openai.responses': return 'responses';
    case 'anthropic.messages': return 'anthropic';
    case 'anthropic.count_tokens': return 'anthropic_count';
    case 'openai.images':
    case 'openai.images.edits':
    case 'openai.images.variations':
    case 'openai.moderations':
    case 'openai.audio.transcriptions':
    case 'openai.audio.translations':
    case 'openai.audio.speech': return 'no_text';
    default: return 'chat';
  }
}

export type Assembler = StreamAssembler | AnthropicAssembler | ResponsesAssembler;

function newAssembler(kind: CaptureKind): Assembler {
  if (kind === 'anthropic') return new AnthropicAssembler();
  if (kind === 'responses') return new ResponsesAssembler();
  return new StreamAssembler(kind === 'completions' ? 'completions' : 'chat');
}

export interface BodySummary {
  upstreamModel: string;
  finishReason: string;
  tokens: Tokens | null;
  errorType: string;
  errorMessage: string;
  /** Generated text, filled only when usage is missing (for the token estimate). */
  outputText: string;
}

/**
 * Above this size a successful body is scanned for its few fields instead of parsed whole (a
 * megabyte of embeddings would hold the loop for milliseconds). Below it V8's JSON.parse is as
 * fast as the scan (measured: ~8 µs either way for a chat answer), and it reads every field.
 */
const SCAN_ABOVE_CHARS = 16 * 1024;

function scanLargeBody(text: string, kind: CaptureKind): BodySummary | null {
  const usage = scanJsonField(text, 'usage', true);
  const reported = !!usage && typeof usage === 'object';
  // No usage: fall back to a full parse for the estimate (none is made for no_text answers).
  if (!reported && kind !== 'no_text') return null;
  const model = scanJsonField(text, 'model');
  const finish = scanJsonField(text, kind === 'anthropic' ? 'stop_reason' : kind === 'responses' ? 'status' : 'finish_reason');
  return {
    upstreamModel: typeof model === 'string' ? model : '',
    finishReason: typeof finish === 'string' ? finish : '',
    tokens: reported ? tokensFromUsage(usage as OpenAiUsage) : { ...NO_TOKENS },
    errorType: '',
    errorMessage: '',
    outputText: '',
  };
}

/** Usage, model, finish_reason or error fields of a complete JSON response body. */
export function summarizeJsonBody(text: string, status: number, kind: CaptureKind = 'chat'): BodySummary {
  if (status < 400 && text.length > SCAN_ABOVE_CHARS) {
    const scanned = scanLargeBody(text, kind);
    if (scanned) return scanned;
  }
  const out: BodySummary = { upstreamModel: '', finishReason: '', tokens: null, errorType: '', errorMessage: '', outputText: '' };
  let v: ErrorBody | null = null;
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object') v = parsed as ErrorBody;
  } catch {
    // Not JSON (an HTML error page from a load balancer, a cut body): keep the raw text only.
  }
  if (status >= 400) {
    const e = v?.error;
    if (e && typeof e === 'object') {
      out.errorType = typeof e.code === 'string' && e.code ? e.code : typeof e.type === 'string' ? e.type : 'upstream_http_error';
      out.errorMessage = typeof e.message === 'string' ? e.message : '';
    } else {
      out.errorType = 'upstream_http_error';
      out.errorMessage = typeof e === 'string' ? e : text.slice(0, 512);
    }
    return out;
  }
  if (!v) {
    // A transcript asked for as text, srt or vtt: no usage comes with it, and none is estimated.
    if (kind === 'no_text') out.tokens = { ...NO_TOKENS };
    return out;
  }
  if (typeof v.model === 'string') out.upstreamModel = v.model;
  if (kind === 'no_text') {
    out.tokens = v.usage && typeof v.usage === 'object' ? tokensFromUsage(v.usage) : { ...NO_TOKENS };
    return out;
  }
  if (kind === 'anthropic_count') {
    // Counting is free: no tokens were processed, and none must be estimated either.
    out.tokens = { ...NO_TOKENS };
    return out;
  }
  if (kind === 'anthropic' || kind === 'responses') return summarizeOther(v, out, kind);
  const fr = Array.isArray(v.choices) ? v.choices[0]?.finish_reason : undefined;
  if (typeof fr === 'string') out.finishReason = fr;
  if (v.usage && typeof v.usage === 'object') out.tokens = tokensFromUsage(v.usage);
  else if (Array.isArray(v.choices)) {
    for (const c of v.choices) {
      const t = c?.message?.content ?? c?.text;
      if (typeof t === 'string') out.outputText += t;
    }
  }
  return out;
}

/** Anthropic Messages and Responses bodies: stop_reason / status, usage, and text for estimates. */
function summarizeOther(v: ErrorBody, out: BodySummary, kind: 'anthropic' | 'responses'): BodySummary {
  const finish = kind === 'anthropic' ? v.stop_reason : v.status;
  if (typeof finish === 'string') out.finishReason = finish;
  if (v.usage && typeof v.usage === 'object') {
    out.tokens = tokensFromUsage(v.usage);
    return out;
  }
  if (kind === 'anthropic' && Array.isArray(v.content)) {
    for (const b of v.content) {
      if (typeof b?.text === 'string') out.outputText += b.text;
      if (typeof b?.thinking === 'string') out.outputText += b.thinking;
      if (b?.input !== undefined) out.outputText += JSON.stringify(b.input);
    }
  } else if (typeof v.output_text === 'string') out.outputText = v.output_text;
  else if (Array.isArray(v.output)) {
    for (const o of v.output) for (const c of Array.isArray(o?.content) ? o.content : []) if (typeof c?.text === 'string') out.outputText += c.text;
  }
  return out;
}

// An unescaped `"usage"` can only be a JSON key (inside strings quotes are escaped); chunks
// carry it at the top level only.
const USAGE_NULL = /,\s*"usage"\s*:\s*null(?=\s*[,}])|"usage"\s*:\s*null\s*,/;

const USAGE_NULL_COMPACT = Buffer.from(',"usage":null');
/** `data` has no `"usage"` key (0), only ones with a value (1), or a `"usage":null` (2). */
type UsageKey = 0 | 1 | 2;

/**
 * Whether `data` holds `"usage"` and `"usage":null`, exactly as `includes` of each would say,
 * in one pass that searches for `usage"` and checks the quote before it: V8 looks for a pattern
 * by its first character, and `"` starts a candidate every few characters of JSON where `u`
 * seldom does (the bench's 11-chunk chat stream: 11 pairs of `includes` 4.7 µs, 11 of these
 * searches 0.5 µs).
 */
export function usageKey(data: string): UsageKey {
  let key: UsageKey = 0;
  for (let at = data.indexOf('usage"'); at !== -1; at = data.indexOf('usage"', at + 6)) {
    if (at === 0 || data.charCodeAt(at - 1) !== 0x22 /* " */) continue;
    if (data.startsWith(':null', at + 6)) return 2;
    key = 1;
  }
  return key;
}

/** Queued chunks, or queued characters, that trigger a parse mid-stream (see `digestBacklog`). */
const DIGEST_BACKLOG = 64;
const DIGEST_BACKLOG_CHARS = 256 * 1024;

export function stripUsageNull(raw: Buffer): Buffer {
  const parts: Buffer[] = [];
  stripUsageNullInto(raw, parts);
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/** stripUsageNull as pieces appended to `out` (views of `raw` in the common case: nothing copied). */
function stripUsageNullInto(raw: Buffer, out: Buffer[]): void {
  // Fast path for the compact form every OpenAI-compatible server we know emits: no decoding.
  const at = raw.indexOf(USAGE_NULL_COMPACT);
  if (at !== -1) {
    const after = raw[at + USAGE_NULL_COMPACT.length];
    if (after === 0x7d /* } */ || after === 0x2c /* , */) {
      out.push(raw.subarray(0, at), raw.subarray(at + USAGE_NULL_COMPACT.length));
      return;
    }
  }
  const text = raw.toString('utf8');
  const stripped = text.replace(USAGE_NULL, '');
  out.push(stripped.length === text.length ? raw : Buffer.from(stripped));
}

/**
 * Stream side of the tee. Deciding what reaches the client needs no JSON parse in the common
 * case (byte checks only); the parse that feeds the assembler runs in `digest()`, which the
 * relay calls after writing (in bulk, see `digestBacklog`), so capture never delays a chunk on
 * its way to the client.
 */
export class StreamCapture {
  readonly assembler: Assembler;
  /** Whether the usage-only chunk must be withheld from the client (the proxy asked for it). */
  readonly dropUsageChunk: boolean;
  sawDone = false;
  private readonly splitter = new SseSplitter();
  /** `data:` payloads not yet parsed, in stream order. */
  private queue: string[] = [];
  private queuedChars = 0;

  constructor(kind: CaptureKind, dropUsageChunk: boolean) {
    this.assembler = newAssembler(kind);
    this.dropUsageChunk = dropUsageChunk;
  }

  /**
   * Appends to `out` the bytes the client should get for one event: the raw event, nothing
   * (the usage-only chunk we asked for), or the event without the `"usage":null` member that
   * asking for usage makes the upstream add to every chunk. `out` null: capture only.
   */
  private take(ev: SseEvent, out: Buffer[] | null): void {
    const data = ev.data;
    if (data === null) {
      out?.push(ev.raw);
      return;
    }
    if (data === '[DONE]') {
      this.sawDone = true;
      out?.push(ev.raw);
      return;
    }
    const usage = this.dropUsageChunk ? usageKey(data) : 0;
    if (usage === 0) {
      this.enqueue(data);
      out?.push(ev.raw);
      return;
    }
    if (usage === 2) {
      this.enqueue(data);
      if (out) stripUsageNullInto(ev.raw, out);
      return;
    }
    // Usage with a value (or an unusual spelling): parse now to decide.
    let value: unknown;
    try {
      value = JSON.parse(data);
    } catch {
      out?.push(ev.raw); // Not ours to judge: forward as received.
      return;
    }
    this.digest(); // keep stream order in the assembler
    const usageOnly = this.assembler.add(value);
    if (usageOnly || !out) return;
    if ((value as { usage?: unknown }).usage === null) stripUsageNullInto(ev.raw, out);
    else out.push(ev.raw);
  }

  /**
   * Parse queued chunks only once enough have piled up: one JSON.parse over many chunks costs
   * far less than one per chunk, and nothing reads the assembler before the stream ends (or
   * breaks), when `digest()` runs anyway. The bound keeps a long stream's unparsed text small.
   */
  digestBacklog(): void {
    // By characters too: one parse of 64 huge chunks would hold the event loop for long.
    if (this.queue.length >= DIGEST_BACKLOG || this.queuedChars >= DIGEST_BACKLOG_CHARS) this.digest();
  }

  private enqueue(data: string): void {
    this.queue.push(data);
    this.queuedChars += data.length;
  }

  /** Feed everything queued so far to the assembler. */
  digest(): void {
    const q = this.queue;
    if (q.length === 0) return;
    this.queue = [];
    this.queuedChars = 0;
    if (q.length > 1) {
      // One parse of a JSON array costs less than a parse call per chunk.
      let values: unknown[] | null = null;
      try {
        values = JSON.parse(`[${q.join(',')}]`) as unknown[];
      } catch {
        // Some chunk is malformed: fall through to one parse each.
      }
      if (values && values.length === q.length) {
        for (const v of values) this.assembler.add(v);
        return;
      }
    }
    for (const item of q) {
      try {
        this.assembler.add(JSON.parse(item));
      } catch {
        // A malformed chunk was forwarded as is; nothing to assemble from it.
      }
    }
  }

  /** Capture only (the chunk was already forwarded as is). */
  observe(chunk: Buffer): void {
    this.splitter.push(chunk, (ev) => this.take(ev, null));
  }

  /** Filtering mode: the bytes to forward for this chunk (complete events only), in pieces to write as one. */
  filter(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    this.splitter.push(chunk, (ev) => this.take(ev, out));
    return out;
  }

  /** End of the upstream stream: the trailing unterminated event, if any (everything digested). */
  end(): Buffer[] {
    const out: Buffer[] = [];
    this.splitter.flush((ev) => this.take(ev, out));
    this.digest();
    return out;
  }
}
