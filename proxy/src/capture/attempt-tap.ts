// The wire record of one upstream attempt: the request bytes exactly as an adapter sent them,
// the upstream's status and request id, and its raw response bytes as they arrived — before
// any translation back to the client's API. The response is a tee, not a buffer: a stream
// between the socket and whoever reads the body passes every chunk on in the same turn, hashes
// it, and keeps at most `keep` bytes of it (the stored copy is capped anyway). Adapters call
// `sent` and `received` at the one place they talk to the network (providers/*.ts).
import { createHash, hash, type Hash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { readThrough } from './link.ts';
import { isOpaqueContentType } from './opaque-body.ts';

/**
 * Response headers naming the upstream's own id for a request, in order of preference: OpenAI
 * (and most compatible servers), Anthropic, Azure (APIM), AWS, Google, then the edge's id.
 */
export const REQUEST_ID_HEADERS = [
  'x-request-id', 'request-id', 'apim-request-id', 'x-ms-request-id', 'x-amzn-requestid', 'x-amz-request-id',
  'x-goog-request-id', 'x-cloud-trace-context', 'cf-ray',
] as const;
const MAX_ID = 256;

/** The provider's id for this request from its response headers ('' if none), first match. */
export function providerRequestId(h: IncomingHttpHeaders): string {
  for (const name of REQUEST_ID_HEADERS) {
    const v = h[name];
    const s = Array.isArray(v) ? v[0] : v;
    if (typeof s === 'string' && s.trim() !== '') return s.trim().slice(0, MAX_ID);
  }
  return '';
}

export class AttemptTap {
  /** The request body as sent ('' until sent; a refused or local answer sends nothing). */
  request: Buffer | string = '';
  sentAny = false;
  status = 0;
  providerRequestId = '';
  /**
   * The client's own request bytes when the call forwards them unchanged (routes make a string
   * whenever they change anything): sending this very buffer means "same as the client's
   * request", known without decoding or comparing a byte.
   */
  clientBody: Buffer | null = null;
  /**
   * The text routing made of the client's own JSON by setting top-level fields (the deployment's
   * model, stream_options: core/src/json/top-level.ts, or a re-serialisation where that gives up), when
   * it was not redacted for the provider: sending this very string means every string in the
   * request is as the client wrote it (attempt-io.ts relies on it).
   */
  derived: string | null = null;
  /**
   * The top-level fields `derived` is the client's text with (withTopLevel: JSON texts by
   * name), or null when it came from a re-serialisation: with it, the attempt's request can be
   * carried as the call's request plus these fields (attempt-io.ts, AttemptIo.request_set).
   */
  derivedSet: Readonly<Record<string, string>> | null = null;
  /** `derived`'s UTF-8, made without encoding it (core/src/json/top-level.ts withTopLevelBoth): what goes on the wire for it. */
  derivedBytes: Buffer | null = null;
  /**
   * What stands for a request that is not text (an audio upload's form): its fields and the
   * file's name, type and size. The bytes are hashed and counted, never stored.
   */
  requestShown: string | null = null;
  /** The answer is an event stream (text/event-stream). */
  eventStream = false;
  /** Response bytes received in all, and the first `keep` of them. */
  responseBytes = 0;
  private readonly kept: Buffer[] = [];
  private keptBytes = 0;
  /**
   * Incremental SHA-256, started only once a byte is not kept: while every byte is kept (most
   * answers), the digest is one call over the kept bytes at the end (half the CPU of a Hash
   * object fed chunk by chunk).
   */
  private hash: Hash | null = null;
  private digestHex: string | null = null;
  /** Applied to a stored error answer (status ≥ 400): secrets an upstream echoed (providers/scrub.ts). */
  scrub: ((text: string) => string) | null = null;

  /** Response bytes worth keeping (the stored body's cap plus redaction's look-ahead). */
  keep: number;
  /** The same for an event stream (0 when a raw stream is not stored: see attempt-io.ts). */
  private readonly streamKeep: number;

  constructor(keep: number, streamKeep = keep) {
    this.keep = keep;
    this.streamKeep = streamKeep;
  }

  /** The adapter is sending `body` upstream (the exact bytes). */
  /** What the adapter sends: recorded, and returned as the bytes to write (`derivedBytes` for `derived`). */
  sent(body: Buffer | string): Buffer | string {
    this.request = body;
    this.sentAny = true;
    return this.sentWire();
  }

  /** The sent request's bytes, or its text when no bytes were made for it. */
  sentWire(): Buffer | string {
    const r = this.request;
    return r === this.derived && this.derivedBytes !== null ? this.derivedBytes : r;
  }

  /** The upstream answered: its raw body, teed through the record. Returns the body to read instead. */
  received(status: number, headers: IncomingHttpHeaders, body: Readable): Readable {
    this.status = status;
    this.providerRequestId = providerRequestId(headers);
    const ct = headers['content-type'];
    this.eventStream = typeof ct === 'string' && ct.startsWith('text/event-stream');
    if (this.eventStream) this.keep = this.streamKeep;
    // Audio (speech) and other non-text answers: hashed and counted, never kept.
    if (isOpaqueContentType(ct)) this.keep = 0;
    // Destroying the tee (client gone) destroys the socket's body, which aborts the upstream
    // request; an upstream failure reaches the reader as the tee's 'error'.
    return readThrough(body, {
      chunk: (chunk) => {
        this.take(chunk);
        return chunk;
      },
    });
  }

  private take(chunk: Buffer): void {
    // Bytes after the record was built (a client abort publishes at once) are not the record's.
    if (this.digestHex !== null) return;
    this.responseBytes += chunk.length;
    const room = this.keep - this.keptBytes;
    if (this.hash === null && chunk.length <= room) {
      this.kept.push(chunk);
      this.keptBytes += chunk.length;
      return;
    }
    // A byte not kept: hash from here on as the bytes pass, starting with those kept.
    this.started().update(chunk);
    if (room > 0) {
      const part = chunk.length <= room ? chunk : chunk.subarray(0, room);
      this.kept.push(part);
      this.keptBytes += part.length;
    }
  }

  /** The incremental hash, fed every byte so far (all of them kept until it exists). */
  private started(): Hash {
    if (this.hash === null) {
      this.hash = createHash('sha256');
      for (const k of this.kept) this.hash.update(k);
    }
    return this.hash;
  }

  /** Every response byte was kept (none beyond `keep`). */
  get complete(): boolean {
    return this.keptBytes === this.responseBytes;
  }

  /**
   * The kept bytes as one buffer, joined once (a stream arrives in many chunks): the text and
   * the digest of a whole answer both read it.
   */
  private joined(): Buffer {
    if (this.kept.length !== 1) this.kept.splice(0, this.kept.length, Buffer.concat(this.kept, this.keptBytes));
    return this.kept[0]!;
  }

  /** The response bytes kept, as text. */
  responseText(): string {
    return this.keptBytes === 0 ? '' : this.joined().toString('utf8');
  }

  /** SHA-256 (hex) of every response byte received so far; '' when nothing arrived. */
  responseSha256(): string {
    if (this.responseBytes === 0) return '';
    // Every byte kept: one digest over them (cheaper than a Hash object fed chunk by chunk).
    this.digestHex ??= this.hash === null ? sha256Hex(this.joined()) : this.started().digest('hex');
    return this.digestHex;
  }
}

export const sha256Hex = (b: Buffer | string): string => hash('sha256', b, 'hex');
