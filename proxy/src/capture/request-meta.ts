// Caller-supplied trace metadata from `x-gatelog-*` headers (and the end user a request body
// names). Values are bounded and junk is dropped silently: these are free-form input and must
// never fail a call.
import type { IncomingHttpHeaders } from 'node:http';
import { readTraceContext, type TraceParent } from './trace-context.ts';
import { claudeMetadataUser, readAgentSession, withAgentTag } from './agent-session.ts';

export const MAX_ID_CHARS = 256;
export const MAX_TAGS = 32;
export const MAX_TAG_KEY_CHARS = 64;
export const MAX_TAG_VALUE_CHARS = 256;
const MAX_TAGS_HEADER_CHARS = 8192;
const TAG_KEY = /^[A-Za-z0-9_.:/-]+$/;

export interface RequestMeta {
  trace_id: string;
  session_id: string;
  user: string;
  tags: Record<string, string>;
  /** The caller's W3C trace context (traceparent/tracestate), if valid. */
  w3c?: TraceParent | null;
}

const NO_TAGS: Record<string, string> = Object.freeze({}) as Record<string, string>;

function single(v: unknown): string {
  if (typeof v !== 'string') return '';
  const t = v.trim();
  // Control characters would only make trouble downstream (CSV export, UI).
  return t.length <= MAX_ID_CHARS && !/[\u0000-\u001f\u007f]/.test(t) ? t : '';
}

/** Parse `k=v,k2=v2`: keys of [A-Za-z0-9_.:/-], values trimmed, both length-bounded. */
export function parseTags(header: string | string[] | undefined): Record<string, string> {
  if (typeof header !== 'string' || header.length === 0 || header.length > MAX_TAGS_HEADER_CHARS) return NO_TAGS;
  // Null prototype: a tag named __proto__ must stay a plain key.
  const out = Object.create(null) as Record<string, string>;
  let n = 0;
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key.length === 0 || key.length > MAX_TAG_KEY_CHARS || !TAG_KEY.test(key)) continue;
    if (value.length > MAX_TAG_VALUE_CHARS || /[\u0000-\u001f\u007f]/.test(value)) continue;
    if (!(key in out)) n++;
    out[key] = value;
    if (n >= MAX_TAGS) break;
  }
  return n === 0 ? NO_TAGS : out;
}

/**
 * The end user the request body names, as LiteLLM and Helicone record it: OpenAI's `user` (chat,
 * completions, embeddings, Responses) or its successor `safety_identifier`, else Anthropic's
 * `metadata.user_id` (Claude Code's composite read as its account: agent-session.ts). '' if none.
 */
export function bodyUser(body: Record<string, unknown> | undefined): string {
  if (body === undefined) return '';
  const own = single(body['user']) || single(body['safety_identifier']);
  if (own) return own;
  const meta = body['metadata'];
  if (meta === null || typeof meta !== 'object') return '';
  const uid = (meta as Record<string, unknown>)['user_id'];
  if (typeof uid !== 'string') return '';
  return claudeMetadataUser(uid) ?? single(uid);
}

/** `body`: the parsed request, where a coding agent may name its session (agent-session.ts). */
export function readRequestMeta(h: IncomingHttpHeaders, body?: Record<string, unknown>): RequestMeta {
  const w3c = readTraceContext(h);
  const agent = readAgentSession(h, body);
  return {
    // An explicit gatelog trace id wins; else the caller's W3C trace id names the call's trace.
    trace_id: single(h['x-gatelog-trace-id']) || (w3c?.traceId ?? ''),
    ...(w3c ? { w3c } : {}),
    // An explicit gatelog session id wins over the one a coding agent sends on its own.
    session_id: single(h['x-gatelog-session-id']) || agent.sessionId,
    // The header names the user for gatelog; Helicone's is honoured for clients moving over; the
    // body's end-user field otherwise, so erasure and spend by user find those calls too.
    user: single(h['x-gatelog-user']) || single(h['helicone-user-id']) || bodyUser(body),
    tags: withAgentTag(parseTags(h['x-gatelog-tags']), agent.agent),
  };
}
