// Loads a trace or a session: every call sharing the id that the person may see, oldest first,
// with totals over those calls only. Trace and session ids are chosen by clients, so one id can
// hold several teams' calls: a team-scoped person's read is scoped in the query, and the totals
// (count, cost, errors, latency) never include another team's calls.
import { error } from '@sveltejs/kit';
import { callsInThread, type ThreadCall } from '@gatelog/core/store/explorer-queries';
import { uiContext } from '#lib/server/context.server.ts';
import { withPreviews } from '#lib/server/calls.server.ts';
import { scopeOf } from '#lib/server/permissions.server.ts';
import type { Principal } from '@gatelog/core/roles';

export interface Thread {
  by: 'trace' | 'session';
  id: string;
  calls: ThreadCall[];
  totals: { calls: number; costUsd: number | null; errors: number; spanMs: number; sumLatencyMs: number };
}

export async function loadThread(by: 'trace' | 'session', id: string, p: Principal | undefined): Promise<Thread> {
  if (!id || id.length > 200) error(404, `No ${by} with this id.`);
  const { store } = await uiContext();
  let calls: ThreadCall[];
  try {
    calls = await withPreviews(store, await callsInThread(store, by, id, scopeOf(p)));
  } catch (err) {
    console.error(`gatelog ui: reading a ${by} failed`, err);
    error(503, 'The request log is not available right now.');
  }
  if (calls.length === 0) error(404, `No ${by} with this id.`);
  const t0 = Date.parse(calls[0]!.started_at);
  const end = Math.max(...calls.map((c) => Date.parse(c.started_at) + c.latency_ms));
  const priced = calls.filter((c) => c.cost_usd !== null);
  return {
    by,
    id,
    calls,
    totals: {
      calls: calls.length,
      costUsd: priced.length ? priced.reduce((s, c) => s + (c.cost_usd ?? 0), 0) : null,
      errors: calls.filter((c) => c.status >= 400 || c.outcome === 'error').length,
      spanMs: end - t0,
      sumLatencyMs: calls.reduce((s, c) => s + c.latency_ms, 0),
    },
  };
}
