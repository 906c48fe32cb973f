// The UI's audited actions (a body viewed, a search, an export) go to the one audit trail:
// straight to the store's chain when this process writes it (embedded), or through the
// proxy's POST /admin/audit when the UI reads ClickHouse read-only (distributed). A body is
// shown only once its view is recorded: if the trail cannot take the row, the page fails.
import { error, type RequestEvent } from '@sveltejs/kit';
import { appendAudit, type AuditInput } from '@gatelog/core/store/audit';
import { uiContext } from '#lib/server/context.server.ts';
import { adminCall } from '#lib/server/admin-api.server.ts';

export type AuditWho = Pick<AuditInput, 'actor' | 'role' | 'sourceIp' | 'userAgent'>;
type Event = Pick<RequestEvent, 'locals' | 'request' | 'getClientAddress'>;

/** The peer address ('' when the adapter does not know it). */
export function clientIp(event: Pick<RequestEvent, 'getClientAddress'>): string {
  try {
    return event.getClientAddress();
  } catch {
    // Not every adapter setup knows the peer address; the row then has none.
    return '';
  }
}

/** Who is acting: the signed-in person and role, or the master key / open UI (acting as owner). */
export function auditWho(event: Event): AuditWho {
  const p = (event.locals as unknown as { principal?: { name: string; role: string } }).principal;
  return {
    actor: p?.name ?? (event.locals.authRequired ? 'master' : 'open-ui'),
    role: p?.role ?? 'owner',
    sourceIp: clientIp(event),
    userAgent: event.request.headers.get('user-agent') ?? '',
  };
}

/** Where this UI's audit rows go. */
export async function auditSink(): Promise<(input: AuditInput) => Promise<unknown>> {
  const ctx = await uiContext();
  if (!ctx.adminUrl) return (input) => appendAudit(ctx.store, input);
  const base = ctx.adminUrl.replace(/\/+$/, '');
  return async (input) => {
    const r = await adminCall(base, ctx.masterKey, 'POST', '/admin/audit', {
      action: input.action, actor: input.actor, role: input.role, target_type: input.targetType, target: input.target,
      details: input.details, source_ip: input.sourceIp, user_agent: input.userAgent,
    });
    if (!r.ok) throw new Error(`the admin API refused the audit row (${r.status}): ${r.message}`);
  };
}

/** Records one action by the event's person; fails the request (503) when the trail cannot take it. */
export async function recordAudit(event: Event, what: Omit<AuditInput, 'actor' | 'role' | 'sourceIp' | 'userAgent'>): Promise<void> {
  try {
    await (await auditSink())({ ...auditWho(event), ...what });
  } catch (err) {
    console.error('gatelog ui: recording an audited action failed', err);
    error(503, 'The audit trail is not available right now, so this cannot be shown.');
  }
}

/**
 * Records an action whose actor the caller names (sign-in, sign-out: no session yet or any
 * more), with the event's ip and user agent. Never throws: a sign-in is not refused because
 * the trail is down (the failure is logged). `_store` is unused: rows go through auditSink.
 */
export async function auditUi(_store: unknown, event: Pick<RequestEvent, 'request' | 'getClientAddress'>, input: Omit<AuditInput, 'sourceIp' | 'userAgent'>): Promise<void> {
  try {
    await (await auditSink())({ role: '', ...input, sourceIp: clientIp(event), userAgent: event.request.headers.get('user-agent') ?? '' });
  } catch (err) {
    console.error('gatelog ui: recording an audited action failed', err);
  }
}
