// An audit trail written at chosen times and read back as stored, for the tests of its retention
// (test/e2e/audit-retention*.test.ts): chains of rows dated in the past, a chain's rows, the
// audit.expire anchors, a mutation that waits, and a logger that records what expiry says.
import { AUDIT_EXPIRE, AuditChain, type AuditInput, type AuditRow, type ExpireOptions, type Store } from '@gatelog/core';

export const DAY = 86_400_000;
/** The tests' "now": the rows' dates count back from it. */
export const NOW = Date.now();
export const ago = (days: number): Date => new Date(NOW - days * DAY);
export const times = (n: number, at: Date): Date[] => Array.from({ length: n }, () => at);

/** What a row of `chainAt` says when the test does not choose: a call view by a person of its own. */
const callView = (i: number): Omit<AuditInput, 'at'> =>
  ({ action: 'call.view', actor: `p${i}@example.com`, role: 'analyst', targetType: 'call', target: `req-${i}`, details: { i }, sourceIp: '10.0.0.1' });

export function auditTrail(store: Store) {
  return {
    /** A chain whose rows were written at `at` (its open row at the first), each as `row(i)` says. */
    async chainAt(at: Date[], row: (i: number) => Omit<AuditInput, 'at'> = callView): Promise<AuditChain> {
      const chain = new AuditChain(store);
      for (const [i, t] of at.entries()) await chain.append({ ...row(i), at: t });
      return chain;
    },

    /** A chain's rows as stored, by seq (`at` as the trail's ISO text). */
    async rowsOf(chain: string): Promise<AuditRow[]> {
      const rs = await store.client.query({
        query: `SELECT * EXCEPT at, concat(replaceOne(toString(at, 'UTC'), ' ', 'T'), 'Z') AS at FROM ${store.database}.admin_audit WHERE chain_id = {c:String} ORDER BY seq`,
        query_params: { c: chain },
        format: 'JSONEachRow',
      });
      return (await rs.json<AuditRow>()).map((r) => ({ ...r, seq: Number(r.seq) }));
    },

    /** The audit.expire rows, oldest first. */
    async anchors(): Promise<AuditRow[]> {
      const rs = await store.client.query({ query: `SELECT * FROM ${store.database}.admin_audit WHERE action = {a:String} ORDER BY at, seq`, query_params: { a: AUDIT_EXPIRE }, format: 'JSONEachRow' });
      return rs.json<AuditRow>();
    },

    /** A mutation (ALTER … UPDATE/DELETE), waited for. */
    async mutate(sql: string, params: Record<string, unknown>): Promise<void> {
      await store.client.command({ query: `${sql} SETTINGS mutations_sync = 2`, query_params: params });
    },
  };
}

/** A logger for expireAudit that keeps its lines. */
export function recorder() {
  const lines: { level: 'info' | 'error'; obj: Record<string, unknown>; msg: string }[] = [];
  const logger = {
    info: (obj: Record<string, unknown>, msg: string) => void lines.push({ level: 'info', obj, msg }),
    error: (obj: Record<string, unknown>, msg: string) => void lines.push({ level: 'error', obj, msg }),
  } as unknown as ExpireOptions['logger'];
  return { lines, logger };
}
