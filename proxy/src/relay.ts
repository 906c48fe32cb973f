// The hot path of one call: dispatch upstream, tee the response to the client (an event
// stream chunk by chunk as it arrives, with backpressure; a plain answer whole, or as it
// arrives when large), capture it, and publish the event before the final end() so a record
// is durable before the client sees the end. One place handles upstream
// failure, client abort and completion; handlers never copy this logic.
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { RouterConfig } from '@gatelog/core';
import { ProxyError, classifyUpstreamError } from './errors.ts';
import { treatmentFor, type CallRecord } from './capture/call-record.ts';
import { StreamCapture, captureKind } from './capture/response-capture.ts';
import type { Tokens } from './capture/usage.ts';
import { warmTokenizer } from './capture/token-estimate.ts';
import { isSseEventTooLarge } from './capture/sse.ts';
import type { FormBody, Provider, UpstreamResponse } from './providers/types.ts';
import { isOpaqueContentType, opaqueBodyText } from './capture/opaque-body.ts';
import { isEventStream } from './providers/wire.ts';
import { clientHeaders, endsEvent } from './relay-headers.ts';
import { applyReported, applyStreamSummary, complete, produced, type Produced, type RelayEnv } from './relay-finish.ts';
import { CallLife } from './capture/call-life.ts';
import { dispatch, type Dispatched } from './routing/dispatch.ts';
import type { AttemptPlan } from './routing/plan.ts';
import type { DeploymentState } from './routing/deployment-state.ts';
import { KEEPALIVE, StreamWatchdog } from './routing/stream-watchdog.ts';
import { openAiStreamError, type StreamErrorEvent } from './routing/stream-error.ts';
import { stateOf } from './request-state.ts';

export type { RelayEnv } from './relay-finish.ts';

const DEFAULT_ROUTER = RouterConfig.parse({});

/** A plain answer up to this size is sent whole (with its length) once recorded; a larger one as it arrives. */
const WHOLE_MAX_BYTES = 256 * 1024;

/** Upstream reads at least this large yield the event loop before the next one is taken. */
const YIELD_ABOVE_BYTES = 16 * 1024;

export interface RelayInput {
  rec: CallRecord;
  provider: Provider;
  route: string;
  /** Exact bytes to send upstream. */
  upstreamBody: Buffer | string;
  /** Parsed body as sent upstream. */
  json: Record<string, unknown>;
  /** The body is the client's JSON with routing's top-level fields only (DispatchInput.derived). */
  derived?: boolean;
  /** With `derived`: the top-level fields the body is the client's text with (DispatchInput.set). */
  set?: Readonly<Record<string, string>> | undefined;
  /** A string upstreamBody's UTF-8 (DispatchInput.bytes). */
  bytes?: Buffer | undefined;
  /** The proxy added stream_options.include_usage: withhold the usage-only chunk. */
  dropUsageChunk: boolean;
  /** Routing: retries, fallbacks and the deadline; absent = one attempt on `provider`. */
  plan?: AttemptPlan;
  /** The SSE event that ends a stream broken after its first byte (default: OpenAI's shape). */
  streamError?: StreamErrorEvent;
  /** Client headers for the adapter (UpstreamCall.headers). */
  headers?: Readonly<Record<string, string>>;
  /** The body is a form (an audio upload), not JSON. */
  form?: FormBody;
}

/**
 * Forward one call. Resolves when the response is wired up (or answered); rejects with a
 * ProxyError only before anything was sent, so fastify's error handler answers it.
 */
export async function relay(env: RelayEnv, reply: FastifyReply, input: RelayInput): Promise<void> {
  const life = new CallLife(env, input.rec, stateOf(reply.request), input.route, input.json);
  try {
    await relayCall(env, life, reply, input);
  } catch (err) {
    // Thrown before the call's event (an adapter or translator that cannot express the call
    // refuses before anything is sent): the event recorded for the error answered is a new
    // one, so release what governance reserved for this call here, or a max-parallel slot and
    // the budget reservation would stay taken.
    life.released();
    throw err;
  }
}

const EMPTY = Buffer.alloc(0);

/** A whole answer in one write: status, headers and body with its length. */
function sendWhole(res: ServerResponse, status: number, headers: OutgoingHttpHeaders, body: Buffer): void {
  headers['content-length'] = body.length;
  res.writeHead(status, headers);
  res.end(body);
}

async function relayCall(env: RelayEnv, life: CallLife, reply: FastifyReply, input: RelayInput): Promise<void> {
  const { rec, provider } = input;
  warmTokenizer();
  const res: ServerResponse = reply.raw;
  /** Aborted when the client leaves: the attempt in flight, or the wait before the next one. */
  let current: AbortController | null = null;
  let up: UpstreamResponse | null = null;
  /** The deployment answering (its in-flight slot is held until the response ends). */
  let state: DeploymentState | null = null;
  let dog: StreamWatchdog | null = null;
  const endAttempt = (): void => {
    state?.end();
    state = null;
  };
  let done = false;
  let capture: StreamCapture | null = null;
  let chunks: Buffer[] | null = null;
  /** The answer's content type when it is not text (speech audio): recorded by type and size only. */
  let opaque: string | null = null;
  /** Tokens the adapter read from the upstream (translated calls), preferred over captured ones. */
  // Assigned once the upstream answers; read by the abort handler too (so not a const there).
  let reported: (() => Tokens | null) | undefined = undefined;

  const responseText = (): string => {
    capture?.digest();
    if (capture) return capture.assembler.chunks > 0 ? JSON.stringify(capture.assembler.toJSON()) : '';
    if (chunks && opaque !== null) return opaqueBodyText(opaque, chunks.reduce((n, c) => n + c.length, 0));
    return chunks ? Buffer.concat(chunks).toString('utf8') : '';
  };

  /**
   * The record of a response cut short (client gone, upstream broken): what arrived so far.
   * Returns the text produced when the upstream reported no usage (to bill it by estimate), or
   * null. Never throws: a capture that fails leaves the body empty and bills the input only.
   */
  const soFar = (): Produced | null => {
    try {
      rec.responseBody = responseText();
      if (capture) applyStreamSummary(rec, capture);
      if (applyReported(rec, reported) || capture?.assembler.usage) return null;
      // An image, moderation or audio answer has no text to estimate from: 0 tokens, as when whole.
      if (!capture && (opaque !== null || captureKind(rec.api) === 'no_text')) return null;
      return produced(capture, rec.responseBody);
    } catch {
      return { text: '', droppedBytes: 0 };
    }
  };

  const onClientClose = (): void => {
    if (done || res.writableEnded) return;
    done = true;
    current?.abort();
    up?.body.destroy();
    dog?.stop();
    endAttempt();
    life.aborted(res.headersSent);
    // Billed for what the upstream produced until then (an answer read in full and then
    // abandoned before its usage chunk must not be free): only once the upstream answered.
    const output = up ? soFar() : null;
    life.publishEstimated(output, true);
  };
  res.on('close', onClientClose);

  const rt = env.router ?? DEFAULT_ROUTER;
  let d: Dispatched;
  try {
    d = await dispatch(rt, env.metrics, { rec, provider, plan: input.plan ?? null, upstreamBody: input.upstreamBody, json: input.json, derived: input.derived, set: input.set, bytes: input.bytes, headers: input.headers, form: input.form, bodyCap: env.bodyCap, storedAs: env.privacy ? treatmentFor(rec, env.privacy).store : 'original' }, {
      gone: () => done,
      current: (c) => {
        current = c;
      },
    });
  } catch (err) {
    // The adapter refused the call before sending anything (untranslatable input): the client's 4xx.
    if (done) {
      reply.hijack();
      return;
    }
    done = true;
    res.off('close', onClientClose);
    throw err;
  }
  if (d.kind === 'gone') {
    // The client left while we waited for an upstream; the abort already recorded the call.
    reply.hijack();
    return;
  }
  if (d.kind === 'failed') {
    done = true;
    res.off('close', onClientClose);
    const f = d.r;
    if (f.response) {
      // Nothing else to try: the upstream's own error answer, passed on unchanged.
      life.upstreamEnded();
      life.answered(f.status);
      reply.hijack();
      rec.tFirstByte = performance.now();
      const answer = f.response;
      complete(life, () => sendWhole(res, f.status, clientHeaders(answer.headers, rec.requestId, false), answer.body), null, [answer.body]);
      return;
    }
    life.failed(f);
    throw new ProxyError(f.status, f.errorClass, `${f.message} from provider ${rec.provider}`, 'upstream_error');
  }
  up = d.r.up;
  state = d.state;

  reply.hijack();
  const body: Readable = up.body;
  const status = up.status;
  life.answered(status);
  if (up.upstreamApi) rec.upstreamApi = up.upstreamApi;
  reported = up.tokens;
  // An upstream may answer a stream request with plain JSON (or an error): capture it as such.
  const sse = rec.stream && status < 300 && isEventStream(up.headers['content-type']);
  if (sse) capture = new StreamCapture(captureKind(rec.api), input.dropUsageChunk);
  else chunks = [];
  if (!sse && isOpaqueContentType(up.headers['content-type'])) opaque = String(up.headers['content-type']);
  const filtering = sse && input.dropUsageChunk;
  // A plain (non-SSE) answer up to WHOLE_MAX_BYTES goes to the client whole, with its length,
  // once it is recorded: one write instead of a chunked response's two, and nobody can use half
  // a JSON body. A larger one, and an event stream, are passed on as they arrive.
  let holding = !sse;
  let heldBytes = 0;
  const upstream = up;
  if (!holding) res.writeHead(status, clientHeaders(upstream.headers, rec.requestId, sse));
  /** What arrived from the read that carried [DONE] on: held for the response's end. */
  let last: Buffer | null = null;
  const end = (): void => {
    // onEnd joined the chunks into one before the call completed.
    if (holding) {
      return sendWhole(res, status, clientHeaders(upstream.headers, rec.requestId, false), chunks![0] ?? EMPTY);
    }
    // The stream's last read (the one with [DONE]) goes out with the end: one write, not two.
    const b = last;
    last = null;
    if (b) res.end(b);
    else res.end();
  };

  /** The last write ended an SSE event: a keepalive comment can go in without splitting one. */
  let atBoundary = true;
  dog = new StreamWatchdog(
    {
      idleMs: rt.timeouts.idle_ms,
      deadline: input.plan?.deadline ?? rec.t0 + rt.timeouts.total_ms,
      keepaliveMs: sse ? rt.sse_keepalive_ms : 0,
      keepalive: () => {
        if (atBoundary && !done) res.write(KEEPALIVE);
      },
      onTimeout: (cls, message) => broke(cls, message),
    },
    performance.now(),
  );

  /** Reasons the upstream body is paused (client backpressure, a yield to other calls). */
  let holds = 0;
  const hold = (): void => {
    if (holds++ === 0) body.pause();
  };
  const release = (): void => {
    if (--holds === 0 && !done) body.resume();
  };

  const write = (buf: Buffer): void => {
    if (rec.tFirstByte === 0) rec.tFirstByte = performance.now();
    if (sse) atBoundary = endsEvent(buf);
    if (!res.write(buf)) {
      hold();
      dog!.hold();
      res.once('drain', () => {
        dog!.release(performance.now());
        release();
      });
    }
  };

  const onData = (chunk: Buffer): void => {
    if (done) return;
    try {
      take(chunk);
    } catch (err) {
      captureFailed(err);
      return;
    }
    // An upstream flooding large reads gets one per turn of the event loop, so other calls'
    // I/O interleaves with it instead of queueing behind a burst (small token chunks never wait).
    if (chunk.length >= YIELD_ABOVE_BYTES && !done) {
      hold();
      setImmediate(release);
    }
  };

  /** Capture must never take the process down: the call ends broken (error event) and is recorded. */
  const captureFailed = (err: unknown): void => {
    if (isSseEventTooLarge(err)) broke('upstream_event_too_large', err.message);
    else broke('capture_failed', 'gatelog could not capture the upstream response');
  };

  /** An SSE read to pass on: at once, unless the stream said [DONE] (then it leaves with the end). */
  const emit = (buf: Buffer): void => {
    if (!capture!.sawDone) return write(buf);
    if (rec.tFirstByte === 0) rec.tFirstByte = performance.now();
    last = last === null ? buf : Buffer.concat([last, buf]);
  };

  const take = (chunk: Buffer): void => {
    dog!.lastChunk = performance.now();
    if (filtering) {
      const out = capture!.filter(chunk);
      // Several events from one upstream read: one write (one chunk, one syscall), not one per event.
      if (out.length > 0) emit(out.length === 1 ? out[0]! : Buffer.concat(out));
    } else if (!sse) {
      chunks!.push(chunk);
      if (!holding) return write(chunk);
      if (rec.tFirstByte === 0) rec.tFirstByte = performance.now();
      heldBytes += chunk.length;
      if (heldBytes > WHOLE_MAX_BYTES) {
        // Too large to hold back: headers and what arrived so far now, the rest as it comes.
        holding = false;
        res.writeHead(status, clientHeaders(upstream.headers, rec.requestId, false));
        write(chunks!.length === 1 ? chunk : Buffer.concat(chunks!));
      }
    } else {
      capture!.observe(chunk);
      emit(chunk);
    }
    capture?.digestBacklog();
  };

  /** The upstream broke after the client got its first byte: no retry is possible any more. */
  function broke(errorClass: string, message: string): void {
    if (done) return;
    done = true;
    dog?.stop();
    // A deployment that breaks mid-response is unhealthy too (the deadline is the call's, not its).
    if (errorClass !== 'deadline_exceeded') state?.fail(performance.now(), errorClass);
    endAttempt();
    body.destroy();
    life.broke(errorClass, message);
    life.publishEstimated(soFar(), !sse);
    // The client must see a broken response, not a clean end of a truncated one: a stream ends
    // with an error event in its API's shape; a plain body can only be cut.
    if (sse) {
      if (last !== null) res.write(last);
      last = null;
      res.end((input.streamError ?? openAiStreamError)(errorClass, message));
    } else res.destroy();
  }

  const onBodyError = (err: unknown): void => {
    if (isSseEventTooLarge(err)) return captureFailed(err);
    const f = classifyUpstreamError(err);
    broke(f.errorClass, `${f.message} mid-response`);
  };
  body.on('error', onBodyError);

  const onEnd = (): void => {
    if (done) return;
    dog?.stop();
    endAttempt();
    life.upstreamEnded();
    try {
      if (capture) {
        const tail = capture.end();
        if (filtering && tail.length > 0) emit(tail.length === 1 ? tail[0]! : Buffer.concat(tail));
      }
    } catch (err) {
      captureFailed(err);
      return;
    }
    done = true;
    if (chunks && chunks.length > 1) chunks = [Buffer.concat(chunks)];
    complete(life, end, capture, chunks, reported, opaque);
  };

  body.on('end', onEnd);
  const early = d.r.early;
  d.r.detach();
  if (d.r.first) onData(d.r.first);
  if (d.r.ended || early.ended) onEnd();
  else if (early.error !== null || early.closed) onBodyError(early.error ?? Object.assign(new Error('upstream closed mid-response'), { code: 'UND_ERR_SOCKET' }));
  else {
    body.on('data', onData);
    body.resume();
  }
}

