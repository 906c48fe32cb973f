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

/** Adds one tag if its key and value are within bounds; false once MAX_TAGS keys are held. */
function addTag(out: Record<string, string>, key: string, value: string, count: { n: number }): boolean {
  if (key.length === 0 || key.length > MAX_TAG_KEY_CHARS || !TAG_KEY.test(key)) return true;
  if (value.length > MAX_TAG_VALUE_CHARS || /[\u0000-\u001f\u007f]/.test(value)) return true;
  if (!(key in out)) count.n++;
  out[key] = value;
  return count.n < MAX_TAGS;
}

/** Parse `k=v,k2=v2`: keys of [A-Za-z0-9_.:/-], values trimmed, both length-bounded. */
export function parseTags(header: string | string[] | undefined): Record<string, string> {
  if (typeof header !== 'string' || header.length === 0 || header.length > MAX_TAGS_HEADER_CHARS) return NO_TAGS;
  // Null prototype: a tag named __proto__ must stay a plain key.
  const out = Object.create(null) as Record<string, string>;
  const count = { n: 0 };
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    if (!addTag(out, part.slice(0, eq).trim(), part.slice(eq + 1).trim(), count)) break;
  }
  return count.n === 0 ? NO_TAGS : out;
}

const HELICONE_PROPERTY = 'helicone-property-';

/**
 * What clients moving over from Helicone and Portkey already send: Helicone's custom properties
 * (`Helicone-Property-Environment: prod` → tag `environment=prod`; header names arrive lower-cased)
 * and Portkey's `x-portkey-metadata` JSON object of strings (its `_user` names the end user, the
 * rest become tags). Invalid entries are dropped, as for `x-gatelog-tags`.
 */
export function foreignMeta(h: IncomingHttpHeaders): { tags: Record<string, string>; user: string } {
  let out: Record<string, string> | undefined;
  const count = { n: 0 };
  let user = '';
  const portkey = h['x-portkey-metadata'];
  if (typeof portkey === 'string' && portkey.length > 0 && portkey.length <= MAX_TAGS_HEADER_CHARS) {
    let meta: unknown;
    try { meta = JSON.parse(portkey); } catch { meta = undefined; }
    if (meta !== null && typeof meta === 'object' && !Array.isArray(meta)) {
      for (const [k, v] of Object.entries(meta as Record<string, unknown>)) {
        if (typeof v !== 'string') continue;
        if (k === '_user') { user = single(v); continue; }
        out ??= Object.create(null) as Record<string, string>;
        if (!addTag(out, k, v.trim(), count)) break;
      }
    }
  }
  for (const name in h) {
    if (count.n >= MAX_TAGS) break;
    if (!name.startsWith(HELICONE_PROPERTY)) continue;
    const v = h[name];
    if (typeof v !== 'string') continue;
    out ??= Object.create(null) as Record<string, string>;
    addTag(out, name.slice(HELICONE_PROPERTY.length), v.trim(), count);
  }
  return { tags: out === undefined || count.n === 0 ? NO_TAGS : out, user };
}

/** `own` (x-gatelog-tags) wins over `foreign` on a shared key; at most MAX_TAGS in all. Both are checked already. */
function mergeTags(foreign: Record<string, string>, own: Record<string, string>): Record<string, string> {
  if (foreign === NO_TAGS) return own;
  if (own === NO_TAGS) return foreign;
  const out = Object.assign(Object.create(null) as Record<string, string>, own);
  let n = Object.keys(own).length;
  for (const k in foreign) {
    if (n >= MAX_TAGS) break;
    if (k in out) continue;
    out[k] = foreign[k]!;
    n++;
  }
  return out;
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
  const foreign = foreignMeta(h);
  return {
    // An explicit gatelog trace id wins, then Portkey's; else the caller's W3C trace id names the call's trace.
    trace_id: single(h['x-gatelog-trace-id']) || single(h['x-portkey-trace-id']) || (w3c?.traceId ?? ''),
    ...(w3c ? { w3c } : {}),
    // An explicit gatelog session id wins over the one a coding agent sends on its own.
    session_id: single(h['x-gatelog-session-id']) || agent.sessionId,
    // The header names the user for gatelog; Helicone's and Portkey's are honoured for clients
    // moving over; the body's end-user field otherwise, so erasure and spend by user find those calls too.
    user: single(h['x-gatelog-user']) || single(h['helicone-user-id']) || foreign.user || bodyUser(body),
    tags: withAgentTag(mergeTags(foreign.tags, parseTags(h['x-gatelog-tags'])), agent.agent),
  };
}
