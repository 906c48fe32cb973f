// A call's attempt_io (core/src/event.ts AttemptIo): per attempt, the request as sent and the
// raw response as received, from the attempts' wire taps — redacted, capped and flagged like
// the call's own bodies, and not stored a second time when identical to them.
import { REQUEST_SET_MAX_NAME, REQUEST_SET_MAX_VALUE, REQUEST_SET_MIN_BYTES, capBody, type AttemptIo, type Privacy, type Treatment, type CallRedaction } from '@gatelog/core';
import { sha256Hex, type AttemptTap } from './attempt-tap.ts';

/** Response bytes a tap keeps beyond the body cap: what redaction looks ahead past the cap. */
export const TAP_MARGIN_BYTES = 32 * 1024;
/**
 * Raw event-stream bytes kept when the call's bodies are stored redacted: a raw stream is
 * redacted on the event loop at 20–75 µs per KB, so a huge stream keeps its first 256 KiB
 * (flagged truncated) instead of costing every other call up to a second of delay.
 */
export const REDACTED_STREAM_KEEP_BYTES = 256 * 1024;

export interface AttemptIoEnv {
  bodyCap: number;
  privacy?: Privacy | undefined;
}

/** The call's bodies (as the event's request_body/response_body start from, before redaction). */
export interface CallBodies {
  request: string;
  response: string;
  /** The event's request_body (redacted, capped), when it is built: what ingest reads request_set over. */
  stored?: string | undefined;
  /** `request` in pieces (core/src/json/pieces.ts) and its UTF-8 length, when it was decoded so. */
  requestPieces?: readonly string[] | undefined;
  requestLength?: number | undefined;
}

const EMPTY: AttemptIo = {
  provider_request_id: '', request_same: false, request_body: '', request_parts: [], request_bytes: 0, request_sha256: '',
  response_same: false, response_body: '', response_bytes: 0, response_sha256: '', truncated: false,
};

/** What of a call record attempt_io is built from (capture/call-record.ts CallRecord). */
export interface AttemptIoSource {
  attemptTaps?: AttemptTap[] | undefined;
  priorAttempts?: readonly unknown[] | undefined;
  requestBody: string;
  requestBytes?: Buffer | undefined;
  requestPieces?: readonly string[] | undefined;
  responseBody: string;
  redaction?: CallRedaction | undefined;
}

/**
 * The event's attempt_io, or undefined when the call never dispatched. `t`: the call's
 * treatment (null without redaction); the call's redaction state is shared, so a value gets
 * the same placeholder in every body of the call.
 */
export function attemptIoOf(r: AttemptIoSource, env: AttemptIoEnv, t: Treatment | null, storedRequest?: string): AttemptIo[] | undefined {
  if (!r.attemptTaps) return undefined;
  const redact = t && env.privacy ? { t, c: (r.redaction ??= env.privacy.call()) } : null;
  const call = { request: r.requestBody, response: r.responseBody, stored: storedRequest, requestPieces: r.requestPieces, requestLength: requestUtf8Length(r) };
  return attemptIo(r.attemptTaps, (r.priorAttempts?.length ?? 0) + 1, call, env, redact);
}

/** The client's request's UTF-8 length where it is known without counting: a body decoded in pieces is valid UTF-8, as long as its bytes. */
export function requestUtf8Length(r: Pick<AttemptIoSource, 'requestBytes' | 'requestPieces'>): number | undefined {
  return r.requestPieces && r.requestBytes ? r.requestBytes.length : undefined;
}

/** One element per attempt (`count`, the event's attempts); an attempt without a tap (none sent) is empty. */
export function attemptIo(
  taps: readonly AttemptTap[], count: number, call: CallBodies, env: AttemptIoEnv, redact: { t: Treatment; c: CallRedaction } | null,
): AttemptIo[] {
  const out: AttemptIo[] = [];
  for (let i = 0; i < count; i++) {
    const tap = taps[i];
    out.push(tap ? one(tap, call, env, redact) : EMPTY);
  }
  return out;
}

/**
 * Every escape in a JSON text is one JSON.stringify writes back as it is (`\"` `\\` `\n` `\r`
 * `\t` `\b` `\f`): re-serialised, each string reads the same, blanked escapes included, so the
 * detectors (which see string contents with escapes blanked) find the same in it. A `\u` or
 * `\/` escape comes back as the character itself: an address written `a\u0040b.com` is seen
 * only after re-serialisation.
 */
export function escapesKept(json: string): boolean {
  for (let i = json.indexOf('\\'); i >= 0; i = json.indexOf('\\', i + 2)) {
    const c = json.charCodeAt(i + 1);
    if (c !== 34 && c !== 92 && c !== 110 && c !== 114 && c !== 116 && c !== 98 && c !== 102) return false;
  }
  return true;
}

/** The call's request opens with `{` (read from its first piece where it is in pieces, so never made one string). */
const startsObject = (call: CallBodies): boolean => (call.requestPieces?.[0] ?? call.request).charCodeAt(0) === 123;

/** Redaction (a fresh state: nothing counted) leaves every value of `set` as it is. */
const holdsNothing = (privacy: Privacy, set: Readonly<Record<string, string>>): boolean => Object.values(set).every((v) => privacy.call().redact(v) === v);

/** Within AttemptIo.request_set's bounds (a client's own stream_options is in it, whatever its size). */
const fitsSchema = (set: Readonly<Record<string, string>>): boolean =>
  Object.entries(set).every(([k, v]) => k.length <= REQUEST_SET_MAX_NAME && v.length <= REQUEST_SET_MAX_VALUE);

function one(tap: AttemptTap, call: CallBodies, env: AttemptIoEnv, redact: { t: Treatment; c: CallRedaction } | null): AttemptIo {
  const sent = tap.request;
  const wire = tap.sentWire();
  const requestBytes = typeof wire === 'string' ? Buffer.byteLength(wire) : wire.length;
  // A form (audio upload) is shown by its fields, never its bytes; it is "the same" when the
  // client's own bytes were sent.
  const shown = tap.requestShown;
  // Sizes first: bodies of different sizes differ, and most of a megabyte is never decoded twice.
  const requestSame = tap.sentAny && (shown !== null
    ? sent === tap.clientBody
    : (sent === tap.clientBody || (typeof sent === 'string' && sent === call.request)) && requestBytes === (call.requestLength ?? Buffer.byteLength(call.request)));
  // Nothing is decoded that will not be stored (metadata_only, a withheld stream): a megabyte
  // decoded on the event loop for nothing delays every other call.
  const storeNone = redact !== null && redact.t.store === 'none';
  const reqText = requestSame || storeNone ? '' : shown ?? (typeof sent === 'string' ? sent : sent.toString('utf8'));
  const shownBytes = shown === null ? requestBytes : Buffer.byteLength(shown);
  const resSha = tap.responseSha256();
  const sameSize = tap.responseBytes > 0 && tap.responseBytes === Buffer.byteLength(call.response);
  let resText: string | null = null;
  const responseText = (): string => {
    if (resText === null) {
      resText = tap.responseBytes > 0 ? tap.responseText() : '';
      if (tap.scrub && tap.status >= 400) resText = tap.scrub(resText);
    }
    return resText;
  };
  // A response kept only in part is compared by its hash (the client's body is whole).
  const responseSame = sameSize && (tap.complete ? responseText() === call.response : sha256Hex(call.response) === resSha);
  // A raw event stream is not stored when redaction found something in the call's own bodies
  // (redacted before attempt_io is built): a value split across events (an e-mail, a key, one
  // token per event) is invisible to the detectors run on the raw text, so only its size and
  // hash are kept and the call's assembled (redacted) response stands for it. When the
  // assembled texts hold nothing to redact, neither can the pieces they were joined from, and
  // the raw stream is stored as received: scanning it again could find nothing the assembled
  // texts did not (it cost 60–70 µs per 10-event stream, the largest part of recording one).
  const cleanCall = redact !== null && Object.keys(redact.c.counts).length === 0;
  const withheld = storeNone || (redact !== null && redact.t.store !== 'original' && tap.eventStream && !cleanCall);
  const rawStream = tap.eventStream && cleanCall && !responseSame && !withheld ? responseText() : null;
  // The same reasoning for a request routing rewrote (an alias naming another model, the
  // stream_options a stream's usage needs): its strings are the client's, which held nothing.
  const routedAsClient = (): boolean => reqText !== '' && env.privacy?.withinStrings === true && sent === tap.derived && startsObject(call) && (call.requestPieces ?? [call.request]).every(escapesKept);
  const rawRequest = cleanCall && call.request.length <= env.bodyCap && routedAsClient();
  // And where redaction found something (in the request, the response or the error): the sent
  // text redacted is the client's text redacted (the event's request_body) with routing's fields
  // set — the same strings, the same placeholders — unless those fields hold something to redact
  // themselves. Ingest makes it so from request_set, and the sent text is not scanned again.
  const set = tap.derivedSet;
  const overStored = !cleanCall && redact !== null && redact.t.store === 'redacted' && set !== null && requestBytes <= env.bodyCap && call.request.length >= REQUEST_SET_MIN_BYTES
    && call.stored !== undefined && fitsSchema(set) && env.privacy !== undefined && holdsNothing(env.privacy, set) && routedAsClient();
  const texts = { request: rawRequest || overStored ? '' : reqText, response: responseSame || withheld || rawStream !== null ? '' : responseText(), error: '' };
  let stored = env.privacy && redact ? env.privacy.stored(redact.t, redact.c, texts, env.bodyCap) : texts;
  if (rawStream !== null) stored = { ...stored, response: rawStream };
  if (rawRequest) stored = { ...stored, request: reqText };
  // What would be stored is the sent text itself, whole, and the event carries the client's
  // text whole: the sent text is that plus routing's top-level fields, and ingest writes it back
  // from them (AttemptIo.request_set) — a long conversation is not encoded twice per call.
  const asSet = overStored || (set !== null && stored.request === reqText && sent === tap.derived && requestBytes <= env.bodyCap
    && call.request.length >= REQUEST_SET_MIN_BYTES && call.stored !== undefined && call.stored === call.request && fitsSchema(set));
  const req = capBody(asSet ? '' : stored.request, env.bodyCap);
  const res = capBody(stored.response, env.bodyCap);
  return {
    provider_request_id: tap.providerRequestId,
    request_same: requestSame,
    ...(asSet ? { request_set: set } : {}),
    request_body: req.text,
    request_parts: [],
    request_bytes: requestBytes,
    request_sha256: tap.sentAny ? sha256Hex(wire) : '',
    response_same: responseSame,
    response_body: res.text,
    response_bytes: tap.responseBytes,
    response_sha256: resSha,
    truncated: req.truncated || res.truncated || (stored.request !== '' && shownBytes > env.bodyCap) || (stored.response !== '' && (tap.responseBytes > env.bodyCap || !tap.complete)),
  };
}
