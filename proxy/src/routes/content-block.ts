// `redaction.block`: a call whose request holds a blocked kind of content (a cloud key, a card
// number, a custom pattern) is refused before it reaches a provider — 400 `content_blocked`,
// naming the kinds found, never the values. The refusal is recorded like governance's, with the
// request stored redacted whatever the call's mode, so the record shows what was stopped
// without keeping it. It runs after the key and model checks and before rate limits, budgets
// and the cache: a refused call holds no reservation and is never answered from the cache.
// What is screened is the record's request text: a JSON body, or a multipart upload's text
// fields (upload-form.ts), never its files.
import type { FastifyRequest } from 'fastify';
import { stricter, treatmentOf, type CallRedaction } from '@gatelog/core';
import { refusalError } from '../auth.ts';
import type { CallRecord } from '../capture/call-record.ts';
import { recordRefused, type AdmitEnv } from '../governance/admit.ts';
import type { Refusal } from '../governance/refusal.ts';
import type { Governance } from '../governance/runtime.ts';
import { markPublished } from '../request-state.ts';

/** Throws the refusal when `rec`'s request holds content blocked for its alias or key. */
export function screenRequest(env: AdmitEnv, gov: Governance | undefined, req: FastifyRequest, rec: CallRecord): void {
  const privacy = env.privacy;
  if (!privacy?.blocking) return;
  const caller = gov?.auth.callerOf(req.headers);
  const key = caller?.kind === 'key' ? caller.key : undefined;
  const blocked = privacy.blocked({ alias: rec.requestedModel, keyId: key?.id ?? '', keyName: key?.name ?? '' });
  if (!blocked) return;
  const found = blockedKinds((rec.redaction ??= privacy.call()), blocked, rec.requestBody);
  if (found.length === 0) return;
  if (key) rec.caller = { keyId: key.id, keyName: key.name, team: key.team };
  rec.redactRequested = stricter(rec.redactRequested ?? treatmentOf('log'), treatmentOf('log'));
  const r: Refusal = { status: 400, type: 'invalid_request_error', code: 'content_blocked', message: `The request was not sent: it ${blockedContent(found)}. Remove it and try again.` };
  gov?.metrics.refusal(r.code);
  if (markPublished(req)) recordRefused(env, rec, r);
  throw refusalError(r);
}

/** The blocked kinds `text` holds, sorted (none: empty), found with the call's redaction state `scan`. */
export function blockedKinds(scan: CallRedaction, blocked: ReadonlySet<string>, text: string): string[] {
  const before = { ...scan.counts };
  scan.redact(text);
  return Object.keys(scan.counts).filter((t) => blocked.has(t) && (scan.counts[t] ?? 0) > (before[t] ?? 0)).sort();
}

/** What a refusal says of what was found: the kinds, never the values. */
export const blockedContent = (found: readonly string[]): string => `contains content this gateway does not forward to models (${found.join(', ')})`;
