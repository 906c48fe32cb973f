import { describe, expect, it } from 'vitest';
import type { IncomingHttpHeaders } from 'node:http';
import { agentOf, claudeMetadataSession, MAX_AGENT_SESSION_CHARS, readAgentSession, withAgentTag } from './agent-session.ts';
import { readRequestMeta } from './request-meta.ts';

const UUID = '0b6b0e39-7a4f-4c53-9d2a-4c8d7f9e1a22';
const CLAUDE_UA = 'claude-cli/2.1.90 (external, cli)';

describe('readAgentSession', () => {
  it.each<[string, IncomingHttpHeaders, Record<string, unknown> | undefined, { sessionId: string; agent: string }]>([
    ['Claude Code header', { 'x-claude-code-session-id': UUID, 'user-agent': CLAUDE_UA }, undefined, { sessionId: UUID, agent: 'claude-code' }],
    ['Claude Code legacy metadata.user_id', { 'user-agent': CLAUDE_UA }, { metadata: { user_id: `user_${'a'.repeat(64)}_account_acc-1_session_${UUID}` } }, { sessionId: UUID, agent: 'claude-code' }],
    ['Claude Code JSON metadata.user_id', {}, { metadata: { user_id: JSON.stringify({ device_id: 'd', account_uuid: '', session_id: UUID }) } }, { sessionId: UUID, agent: 'claude-code' }],
    ['the header wins over the body', { 'x-claude-code-session-id': 'from-header' }, { metadata: { user_id: `user_x_account__session_${UUID}` } }, { sessionId: 'from-header', agent: 'claude-code' }],
    ['Codex session-id', { 'session-id': UUID, originator: 'codex_cli_rs' }, undefined, { sessionId: UUID, agent: 'codex' }],
    ['Codex legacy session_id + conversation_id', { session_id: 's-1', conversation_id: 'c-1', 'user-agent': 'codex_cli_rs/0.50.0 (Mac OS 15.0; arm64)' }, undefined, { sessionId: 's-1', agent: 'codex' }],
    ['Codex conversation_id alone', { conversation_id: 'c-1', originator: 'codex_exec' }, undefined, { sessionId: 'c-1', agent: 'codex' }],
    ['OpenCode x-session-id', { 'x-session-id': 'ses_abc', 'user-agent': 'opencode/1.17.0' }, undefined, { sessionId: 'ses_abc', agent: 'opencode' }],
    ['an unknown client with x-session-id', { 'x-session-id': 'abc' }, undefined, { sessionId: 'abc', agent: 'other' }],
    ['Helicone-Session-Id', { 'helicone-session-id': 'h-1' }, undefined, { sessionId: 'h-1', agent: 'other' }],
    ['Claude Code without a session', { 'user-agent': CLAUDE_UA }, {}, { sessionId: '', agent: 'claude-code' }],
    ['nothing', { 'user-agent': 'OpenAI/JS 5.0.0' }, { model: 'x' }, { sessionId: '', agent: '' }],
    ['a Portkey trace id is not a session', { 'x-portkey-trace-id': 't-1' }, undefined, { sessionId: '', agent: '' }],
  ])('%s', (_name, headers, body, expected) => {
    expect(readAgentSession(headers, body)).toEqual(expected);
  });

  it('drops ids that are too long, of a bad charset, or repeated', () => {
    expect(readAgentSession({ 'x-claude-code-session-id': 'x'.repeat(MAX_AGENT_SESSION_CHARS + 1) }).sessionId).toBe('');
    expect(readAgentSession({ 'x-claude-code-session-id': 'x'.repeat(MAX_AGENT_SESSION_CHARS) }).sessionId).toHaveLength(MAX_AGENT_SESSION_CHARS);
    for (const bad of ['a b', 'a\u0001b', '<script>', 'a,b', '"a"', '-leading', 'é']) {
      expect(readAgentSession({ 'x-session-id': bad }).sessionId, bad).toBe('');
    }
    expect(readAgentSession({ 'session-id': ['a', 'b'] } as unknown as IncomingHttpHeaders).sessionId).toBe('');
    // A bad header does not hide a good one further down the list.
    expect(readAgentSession({ 'x-claude-code-session-id': 'bad id', 'session-id': 'good' }).sessionId).toBe('good');
  });

  it('reads metadata.user_id only when it is a bounded string', () => {
    expect(claudeMetadataSession({ metadata: { user_id: `${'x'.repeat(2000)}_session_${UUID}` } })).toBe('');
    expect(claudeMetadataSession({ metadata: { user_id: 42 } })).toBe('');
    expect(claudeMetadataSession({ metadata: 'user_x_session_1' })).toBe('');
    expect(claudeMetadataSession({ metadata: { user_id: '{"session_id":' } })).toBe('');
    expect(claudeMetadataSession({ metadata: { user_id: '{"session_id":{"a":1}}' } })).toBe('');
    expect(claudeMetadataSession({ metadata: { user_id: 'plain-user' } })).toBe('');
    expect(claudeMetadataSession(undefined)).toBe('');
  });

  it('knows the agents by User-Agent and originator', () => {
    expect(agentOf({ 'user-agent': 'claude-cli/1.0.0 (external, sdk-ts)' })).toBe('claude-code');
    expect(agentOf({ 'user-agent': 'codex-tui/0.122.0' })).toBe('codex');
    expect(agentOf({ originator: 'codex_vscode' })).toBe('codex');
    expect(agentOf({ 'user-agent': 'Anthropic/JS 0.60.0' })).toBe('');
    expect(agentOf({})).toBe('');
  });
});

describe('readRequestMeta with coding agents', () => {
  it('an explicit x-gatelog-session-id wins over the agent session', () => {
    const m = readRequestMeta({ 'x-gatelog-session-id': 'mine', 'x-claude-code-session-id': UUID });
    expect(m.session_id).toBe('mine');
    expect({ ...m.tags }).toEqual({ agent: 'claude-code' });
  });

  it('takes the agent session and tags the agent; a caller tag named agent wins', () => {
    const m = readRequestMeta({ 'session-id': UUID, originator: 'codex_cli_rs', 'x-gatelog-tags': 'env=dev' });
    expect(m.session_id).toBe(UUID);
    expect({ ...m.tags }).toEqual({ env: 'dev', agent: 'codex' });
    expect({ ...readRequestMeta({ 'session-id': UUID, 'x-gatelog-tags': 'agent=mine' }).tags }).toEqual({ agent: 'mine' });
    expect(readRequestMeta({}, { metadata: { user_id: `user_a_account__session_${UUID}` } }).session_id).toBe(UUID);
  });

  it('adds no tag when no agent is known', () => {
    const tags = { a: '1' };
    expect(withAgentTag(tags, '')).toBe(tags);
    expect(readRequestMeta({}).tags).toEqual({});
  });
});
