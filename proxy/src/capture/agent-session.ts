// Sessions without setup: coding agents already name their session on every request, so their
// calls group into sessions with no gatelog header. What each one sends (checked against their
// sources and the proxies that read them):
// - Claude Code: `x-claude-code-session-id: <uuid>` (v2.1.86+), and on /v1/messages the body's
//   `metadata.user_id` — `user_<hash>_account_<id>_session_<uuid>`, or in newer versions a JSON
//   string `{"device_id":…,"account_uuid":…,"session_id":"<uuid>"}`. User-Agent `claude-cli/…`.
// - Codex CLI (Responses API): `session-id` (current) or `session_id` + `conversation_id`
//   (older releases); `originator: codex_cli_rs|codex_exec|codex_vscode…`, User-Agent `codex_…`/`codex-tui/…`.
// - OpenCode: `x-session-id` (v1.17+) and `x-session-affinity`; Helicone clients: `helicone-session-id`.
// Not honoured: Portkey's `x-portkey-trace-id` names a trace, not a session (gatelog reads
// x-gatelog-trace-id and W3C traceparent for traces). An explicit `x-gatelog-session-id` always
// wins (request-meta.ts). Everything here is untrusted input: ids are bounded in length and
// charset, the body field is read only when short, and nothing here can fail a call.
import type { IncomingHttpHeaders } from 'node:http';

export type Agent = 'claude-code' | 'codex' | 'opencode' | 'other';

export interface AgentSession {
  /** '' when the request names no session. */
  sessionId: string;
  /** '' when neither the session's source nor the client says which agent it is. */
  agent: Agent | '';
}

/** Longest session id taken from a header or body (agents send UUIDs: 36 characters). */
export const MAX_AGENT_SESSION_CHARS = 128;
/** metadata.user_id longer than this is not parsed (Claude Code's is under 300 characters). */
const MAX_USER_ID_CHARS = 1024;
const SESSION_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;
const LEGACY_USER_ID = /_session_([A-Za-z0-9-]{1,128})$/;

/** Header → agent it implies ('' = decided by the client's User-Agent/originator). In order of precedence. */
const SESSION_HEADERS: readonly (readonly [string, Agent | ''])[] = [
  ['x-claude-code-session-id', 'claude-code'],
  ['session-id', ''],
  ['session_id', ''],
  ['conversation_id', ''],
  ['x-session-id', ''],
  ['x-session-affinity', ''],
  ['helicone-session-id', ''],
];

const NONE: AgentSession = Object.freeze({ sessionId: '', agent: '' });

/** A bounded session id of a safe charset, or ''. Repeated headers (arrays) are ignored. */
export function cleanSessionId(v: unknown): string {
  if (typeof v !== 'string') return '';
  const t = v.trim();
  return t.length > 0 && t.length <= MAX_AGENT_SESSION_CHARS && SESSION_ID.test(t) ? t : '';
}

/** Which coding agent the client is, from User-Agent and Codex's `originator`; '' if unknown. */
export function agentOf(h: IncomingHttpHeaders): Agent | '' {
  const originator = h['originator'];
  if (typeof originator === 'string' && originator.startsWith('codex')) return 'codex';
  const ua = h['user-agent'];
  if (typeof ua !== 'string') return '';
  const u = ua.slice(0, 200).toLowerCase();
  if (u.startsWith('claude-cli/') || u.startsWith('claude-code/')) return 'claude-code';
  if (u.startsWith('codex')) return 'codex';
  if (u.startsWith('opencode')) return 'opencode';
  return '';
}

/** The session id in Claude Code's `metadata.user_id` (legacy string or JSON string), or ''. */
export function claudeMetadataSession(body: Record<string, unknown> | undefined): string {
  const meta = body?.['metadata'];
  if (meta === null || typeof meta !== 'object') return '';
  const uid = (meta as Record<string, unknown>)['user_id'];
  if (typeof uid !== 'string' || uid.length === 0 || uid.length > MAX_USER_ID_CHARS) return '';
  if (uid.startsWith('{')) {
    try {
      const o: unknown = JSON.parse(uid);
      return o !== null && typeof o === 'object' ? cleanSessionId((o as Record<string, unknown>)['session_id']) : '';
    } catch {
      return '';
    }
  }
  const m = LEGACY_USER_ID.exec(uid);
  return m ? cleanSessionId(m[1]) : '';
}

const LEGACY_USER = /^(user_[A-Za-z0-9]{1,128})_account_([A-Za-z0-9-]{0,128})_session_/;

/**
 * Who Claude Code's `metadata.user_id` names: the account (its uuid), else the device — never
 * the whole composite, whose session part changes every session. '' when it is not Claude
 * Code's shape (a plain id is the caller's own, read as is by request-meta.ts).
 */
export function claudeMetadataUser(uid: string): string | undefined {
  if (uid.startsWith('{')) {
    try {
      const o: unknown = JSON.parse(uid);
      if (o === null || typeof o !== 'object') return undefined;
      const r = o as Record<string, unknown>;
      return cleanSessionId(r['account_uuid']) || cleanSessionId(r['device_id']);
    } catch {
      return undefined;
    }
  }
  const m = LEGACY_USER.exec(uid);
  return m ? cleanSessionId(m[2]) || cleanSessionId(m[1]) : undefined;
}

/**
 * The session a coding agent named for this request, and which agent it is. `body` is the
 * parsed request (Anthropic Messages carry Claude Code's metadata); headers come first.
 */
export function readAgentSession(h: IncomingHttpHeaders, body?: Record<string, unknown>): AgentSession {
  const client = agentOf(h);
  for (const [name, implies] of SESSION_HEADERS) {
    const id = cleanSessionId(h[name]);
    if (id) return { sessionId: id, agent: implies || client || 'other' };
  }
  const fromBody = claudeMetadataSession(body);
  if (fromBody) return { sessionId: fromBody, agent: 'claude-code' };
  return client ? { sessionId: '', agent: client } : NONE;
}

/**
 * The call's tags with `agent=<agent>` added, so spend and sessions split by agent with no
 * setup; a caller's own `agent` tag wins. Returns `tags` itself when there is nothing to add.
 */
export function withAgentTag(tags: Record<string, string>, agent: Agent | ''): Record<string, string> {
  if (!agent || Object.hasOwn(tags, 'agent')) return tags;
  const out = Object.assign(Object.create(null) as Record<string, string>, tags);
  out['agent'] = agent;
  return out;
}
