// A model call gatelog answers with an error of its own before any upstream attempt, and that
// nothing else recorded (malformed JSON, a missing field, an unknown model alias, a body over
// the limit, a wrong content type, an adapter that cannot express the call), is recorded from
// the surface's error handler as a refused call: cost 0, no attempts, the status, type and
// message the client got. A client's bug then shows in the explorer and error rates like any
// call. Authentication failures never are (see request-state.ts); nor are non-model routes.
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyContextConfig, FastifyRequest } from 'fastify';
import type { LlmCallEvent } from '@gatelog/core';
import type { EventEnv } from '../capture/call-record.ts';
import { toRefusedEvent } from '../capture/call-life.ts';
import type { Caller } from '../auth.ts';
import type { ProxyError } from '../errors.ts';
import type { UpstreamApi } from '../providers/types.ts';
import { claimEvent, stateOf } from '../request-state.ts';
import { newCallRecord } from './body.ts';
import { formBoundary } from './multipart.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set on the routes that are model calls: an error answered there is a call to record. */
    modelApi?: UpstreamApi;
    /** Set on the upload routes: what the record shows of their form (upload-form.ts). */
    uploadShown?: (raw: unknown, contentType: string | undefined) => { text: string; json: Record<string, unknown> } | null;
  }
}

export interface ErrorRecording {
  env: EventEnv & {
    publish: (e: LlmCallEvent) => void;
    onPublishError: (err: unknown, requestId: string) => void;
  };
  /** Who the auth check let in (a virtual key's id, name and team go on the event). */
  callerOf?: ((h: IncomingHttpHeaders) => Caller | undefined) | undefined;
}

/** The error as the client saw it, in the surface's shape. */
export interface ShownError {
  type: string;
  message: string;
}

interface BodySeen {
  text: string;
  model: string;
  stream: boolean;
  /** The parsed body, when it is a JSON object (the end user it names: request-meta.ts). */
  json?: Record<string, unknown>;
}

const NO_BODY: BodySeen = { text: '', model: '', stream: false };

/**
 * The bytes received as text (none when fastify refused the body unread: 413, 415) and what
 * parsed of them. A form (an upload) is shown by its fields and files' metadata, never its bytes.
 */
function bodySeen(raw: unknown, contentType: string | undefined, uploadShown: FastifyContextConfig['uploadShown']): BodySeen {
  if (!Buffer.isBuffer(raw) || raw.length === 0) return NO_BODY;
  if (formBoundary(contentType) !== null) {
    const f = uploadShown?.(raw, contentType) ?? null;
    if (!f) return NO_BODY;
    const model = f.json['model'];
    return { text: f.text, model: typeof model === 'string' ? model : '', stream: false, json: f.json };
  }
  const text = raw.toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { text, model: '', stream: false };
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return { text, model: '', stream: false };
  const { model, stream } = json as Record<string, unknown>;
  return { text, model: typeof model === 'string' ? model : '', stream: stream === true, json: json as Record<string, unknown> };
}

/** Record the error being answered, if the route is a model call and its event is still pending. */
export function recordAnsweredError(rec: ErrorRecording, req: FastifyRequest, e: ProxyError, shown: ShownError): void {
  const api = req.routeOptions.config.modelApi;
  if (api === undefined) return;
  const st = stateOf(req);
  if (!claimEvent(st)) return;
  try {
    const body = bodySeen(req.body, req.headers['content-type'], req.routeOptions.config.uploadShown);
    const r = newCallRecord(req, { endpoint: req.routeOptions.url ?? '', api, requested: body.model, dep: null, stream: body.stream, text: body.text, ...(body.json ? { json: body.json } : {}) });
    const caller = rec.callerOf?.(req.headers);
    if (caller?.kind === 'key') r.caller = { keyId: caller.key.id, keyName: caller.key.name, team: caller.key.team };
    rec.env.publish(toRefusedEvent(r, rec.env, { status: e.status, type: shown.type, message: shown.message, code: e.code }));
  } catch (err) {
    // Recording must never change the answer.
    rec.env.onPublishError(err, st.id);
  }
}
