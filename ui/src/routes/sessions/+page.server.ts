// Sessions: calls grouped by session id (set by x-gatelog-session-id, or by a coding agent's
// own session headers), newest activity first, in a time range, scoped to the person's teams.
import { error } from '@sveltejs/kit';
import { encodeSessionCursor, listSessions, parseSessionCursor, SESSION_AGENTS, type SessionAgent } from '@gatelog/core/store/session-list-queries';
import { parseRange } from '#lib/range.ts';
import { uiContext } from '#lib/server/context.server.ts';
import { previewsFor, scopeOf } from '#lib/server/permissions.server.ts';
import { withSessionPreviews } from '#lib/server/calls.server.ts';
import { readOr400, rethrowKnown } from '#lib/server/read-params.server.ts';
import type { PageServerLoad } from './$types';

const PAGE = 50;

export const load: PageServerLoad = async ({ url, locals }) => {
  const range = readOr400(() => parseRange(url.searchParams, '7d'));
  const before = readOr400(() => parseSessionCursor(url.searchParams.get('before')));
  const a = url.searchParams.get('agent') ?? '';
  const agent = (SESSION_AGENTS as readonly string[]).includes(a) ? (a as SessionAgent) : undefined;
  if (a && !agent) error(400, `Query parameter agent must be one of ${SESSION_AGENTS.join(', ')}.`);
  const { store } = await uiContext();
  try {
    const page = await listSessions(store, { from: range.from, to: range.to, agent, before, limit: PAGE, ...scopeOf(locals.principal) });
    // Links keep the range as chosen (a preset stays a preset) and the filter.
    const keep = new URLSearchParams();
    if (range.preset) keep.set('range', range.preset);
    else {
      keep.set('from', range.from);
      keep.set('to', range.to);
    }
    if (agent) keep.set('agent', agent);
    const nextQs = page.next ? new URLSearchParams([...keep, ['before', encodeSessionCursor(page.next)]]).toString() : undefined;
    return { range, agent: agent ?? '', agents: SESSION_AGENTS, rows: previewsFor(locals.principal, await withSessionPreviews(store, page.rows)), paged: before !== undefined, next: nextQs, first: keep.toString() };
  } catch (err) {
    rethrowKnown(err);
    console.error('gatelog ui: listing sessions failed', err);
    error(503, 'The request log is not available right now.');
  }
};
