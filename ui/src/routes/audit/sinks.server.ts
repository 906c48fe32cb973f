// The audit page's "Streaming to SIEM" panel: each audit sink's status from the proxy's
// GET /admin/audit/sinks (the sinks live in gatelog.yaml, which the proxy reads; the API gives
// their addresses without secrets), asked for the signed-in person. No sink, or a team-scoped
// reader: no panel.
import type { RequestEvent } from '@sveltejs/kit';
import type { SinkStatus } from '@gatelog/core/audit-stream/status';
import { uiContext } from '#lib/server/context.server.ts';
import { adminBaseUrl, adminCall } from '#lib/server/admin-api.server.ts';

export type SinkPanel = { sinks: SinkStatus[]; error?: undefined } | { sinks: []; error: string };

export async function auditSinks(event: Pick<RequestEvent, 'url' | 'platform' | 'locals'>): Promise<SinkPanel> {
  // The sinks carry every team's rows: a team-scoped auditor is not shown their status (the API refuses it too).
  if (event.locals.principal?.teams.length) return { sinks: [] };
  const { masterKey, adminUrl } = await uiContext();
  const r = await adminCall(adminBaseUrl(event, adminUrl), masterKey, 'GET', '/admin/audit/sinks', undefined, 10_000, event.locals.principal);
  // A proxy older than this route has no sinks to show.
  if (r.status === 404) return { sinks: [] };
  if (!r.ok) return { sinks: [], error: r.message };
  return { sinks: (r.body as { data?: SinkStatus[] } | null)?.data ?? [] };
}
