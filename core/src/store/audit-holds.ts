// Legal holds of the audit trail (kind `audit`, retention.ts): while one is active,
// `retention.audit` does not expire what it covers (audit-expiry.ts), and the person it names is
// not deleted (people.ts). `*` covers the whole trail. An email covers a person: the rows they
// did (`actor` is a person's email) and the rows about them — people's and accounts' rows name
// the person by user id (`target_type` person or account: person.*, sign-ins, sign-outs), a
// failed sign-in by the address typed. Emails compare case-insensitively.
//
// A person's ids are read from ui_users and from the trail's own person rows that carry the email
// (person.create, SCIM changes): a person deleted before the hold was placed has no ui_users row
// left, but the trail still names their id. An address given to someone else after a deletion
// holds both people's rows: a hold keeps more, never less.
import { z } from 'zod';
import type { Store } from './client.ts';
import { activeAuditHolds, type AuditHold } from './retention.ts';

/** The value of a hold of the whole trail. */
export const WHOLE_TRAIL = '*';

/**
 * An address as people are named by: loose on purpose, as an identity provider's addresses
 * (single sign-on, SCIM) need not pass the stricter check the People page applies.
 */
const ADDRESS = /^[^\s@]+@[^\s@]+$/;

/** An audit hold's value as stored (`*`, or the email lower-cased); undefined when it is neither. */
export function auditHoldValue(v: string): string | undefined {
  if (v === WHOLE_TRAIL) return v;
  const email = v.trim().toLowerCase();
  return ADDRESS.test(email) ? email : undefined;
}

/** The hold among `holds` that keeps a person (by email), of them or of the whole trail. */
export function holdOnPerson(holds: readonly AuditHold[], email: string): AuditHold | undefined {
  const e = email.toLowerCase();
  return holds.find((h) => h.value === WHOLE_TRAIL || h.value.toLowerCase() === e);
}

/** What the active audit holds keep from expiry. */
export interface AuditKeep {
  /** A hold of the whole trail: nothing expires while it is active. */
  trail: AuditHold | undefined;
  /** The ids of the holds of people, whose rows `sql` selects. */
  personHolds: string[];
  /** SQL over admin_audit: whether a row is a held person's (`0` when no person is held). */
  sql: string;
  /** The parameters `sql` reads. */
  params: Record<string, unknown>;
}

const HELD_ROW = `(has({held_emails:Array(String)}, lowerUTF8(actor))
  OR (target_type IN ('person', 'account') AND (has({held_ids:Array(String)}, target) OR has({held_emails:Array(String)}, lowerUTF8(target)))))`;

/** The active audit holds (one query), and the people they name resolved to their ids. */
export async function auditKeep(store: Store): Promise<AuditKeep> {
  const holds = await activeAuditHolds(store);
  const trail = holds.find((h) => h.value === WHOLE_TRAIL);
  const people = holds.filter((h) => h.value !== WHOLE_TRAIL);
  if (trail || people.length === 0) return { trail, personHolds: [], sql: '0', params: {} };
  const emails = [...new Set(people.map((h) => h.value.toLowerCase()))];
  return { trail, personHolds: people.map((h) => h.id), sql: HELD_ROW, params: { held_emails: emails, held_ids: await personIds(store, emails) } };
}

/** Every user id the people with these (lower-cased) emails have or had. */
async function personIds(store: Store, emails: readonly string[]): Promise<string[]> {
  const db = store.database;
  const rs = await store.client.query({
    query: `SELECT DISTINCT id FROM (
              SELECT id FROM ${db}.ui_users WHERE has({emails:Array(String)}, lowerUTF8(email))
              UNION ALL
              SELECT target AS id FROM ${db}.admin_audit
              WHERE target_type = 'person' AND has({emails:Array(String)}, lowerUTF8(JSONExtractString(details, 'email'))))`,
    query_params: { emails: [...emails] },
    format: 'JSONEachRow',
  });
  return z.array(z.object({ id: z.string() })).parse(await rs.json()).map((r) => r.id);
}
