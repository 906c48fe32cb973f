// What the proxy keeps of an upstream response while teeing it to the client.
// Non-stream: the exact bytes. Stream: SSE events parsed into a StreamAssembler; when the
// proxy itself asked for usage, the usage-only chunk is recognised so it can be withheld.
import { SseSplitter, type SseEvent } from './sse.ts';
import { StreamAssembler, type OpenAiUsage, type StreamKind } from './assemble.ts';
import { tokensFromUsage, type Tokens } from './usage.ts';
import { scanJsonField } from './json-scan.ts';

interface ErrorBody {
  error?: { message?: unknown; type?: unknown; code?: unknown } | string;
  model?: unknown;
  usage?: OpenAiUsage;
  choices?: { finish_reason?: unknown; text?: unknown; message?: { content?: unknown } }[];
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

/** Above this size a successful body is scanned for its few fields instead of parsed whole. */
const SCAN_ABOVE_CHARS = 16 * 1024;

function scanLargeBody(text: string): BodySummary | null {
  const usage = scanJsonField(text, 'usage', true);
  if (!usage || typeof usage !== 'object') return null; // no usage: fall back to a full parse for the estimate
  const model = scanJsonField(text, 'model');
  const finish = scanJsonField(text, 'finish_reason');
  return {
    upstreamModel: typeof model === 'string' ? model : '',
    finishReason: typeof finish === 'string' ? finish : '',
    tokens: tokensFromUsage(usage as OpenAiUsage),
    errorType: '',
    errorMessage: '',
    outputText: '',
  };
}

/** Usage, model, finish_reason or error fields of a complete JSON response body. */
export function summarizeJsonBody(text: string, status: number): BodySummary {
  if (status < 400 && text.length > SCAN_ABOVE_CHARS) {
    const scanned = scanLargeBody(text);
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
  if (!v) return out;
  if (typeof v.model === 'string') out.upstreamModel = v.model;
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

// An unescaped `"usage"` can only be a JSON key (inside strings quotes are escaped); chunks
// carry it at the top level only.
const USAGE_NULL = /,\s*"usage"\s*:\s*null(?=\s*[,}])|"usage"\s*:\s*null\s*,/;

export function stripUsageNull(raw: Buffer): Buffer {
  const text = raw.toString('utf8');
  const out = text.replace(USAGE_NULL, '');
  return out.length === text.length ? raw : Buffer.from(out);
}

/** Stream side of the tee: feeds complete events to the assembler, reports which to forward. */
export class StreamCapture {
  readonly assembler: StreamAssembler;
  /** Whether the usage-only chunk must be withheld from the client (the proxy asked for it). */
  readonly dropUsageChunk: boolean;
  sawDone = false;
  private readonly splitter = new SseSplitter();

  constructor(kind: StreamKind, dropUsageChunk: boolean) {
    this.assembler = new StreamAssembler(kind);
    this.dropUsageChunk = dropUsageChunk;
  }

  /**
   * Parse one event; returns the bytes the client should get: the raw event, nothing (the
   * usage-only chunk we asked for), or — in filtering mode — the event without the
   * `"usage":null` member that asking for usage makes the upstream add to every chunk.
   */
  private take(ev: SseEvent): Buffer | null {
    const data = ev.data;
    if (data === null) return ev.raw;
    if (data === '[DONE]') {
      this.sawDone = true;
      return ev.raw;
    }
    let value: unknown;
    try {
      value = JSON.parse(data);
    } catch {
      return ev.raw; // Not ours to judge: forward as received.
    }
    const usageOnly = this.assembler.add(value);
    if (!this.dropUsageChunk) return ev.raw;
    if (usageOnly) return null;
    if ((value as { usage?: unknown }).usage === null) return stripUsageNull(ev.raw);
    return ev.raw;
  }

  /** Capture only (the chunk was already forwarded as is). */
  observe(chunk: Buffer): void {
    this.splitter.push(chunk, (ev) => void this.take(ev));
  }

  /** Filtering mode: returns the bytes to forward for this chunk (complete events only). */
  filter(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    this.splitter.push(chunk, (ev) => {
      const b = this.take(ev);
      if (b) out.push(b);
    });
    return out;
  }

  /** End of the upstream stream: the trailing unterminated event, if any. */
  end(): Buffer[] {
    const out: Buffer[] = [];
    this.splitter.flush((ev) => {
      const b = this.take(ev);
      if (b) out.push(b);
    });
    return out;
  }
}
