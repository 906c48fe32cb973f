// Failures to obtain a cloud credential (an AWS credential chain, a Google or Entra token
// endpoint, a metadata server) and the answer they become: the adapter answers in the client's
// API shape, naming the provider, with 401 when the source refused or has nothing, 502 when it
// failed or did not answer in time (so routing may try another deployment). Never a secret in
// the message: only the source's own reason.
import { Readable } from 'node:stream';
import { anthropicTypeForStatus } from '../translate/index.ts';
import type { UpstreamResponse } from './types.ts';
import { anthropicErrorJson } from './wire.ts';

/** How long one credential lookup (chain, token exchange, metadata) may take before the call is answered 502. */
export const CREDENTIAL_LOOKUP_MS = 10_000;

/** No credential could be had: `status` is what gatelog answers with. */
export class TokenError extends Error {
  override readonly name = 'TokenError';
  readonly code = 'GATELOG_ERR_UPSTREAM_AUTH';
  readonly status: number;
  constructor(status: number, message: string, options?: ErrorOptions) {
    super(message, options);
    this.status = status;
  }
}

/** `work`, or a TokenError (502) naming `what` once `ms` have passed without it settling. */
export function withinLookupTime<T>(work: Promise<T>, what: string, ms = CREDENTIAL_LOOKUP_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new TokenError(502, `${what} did not answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/** An Anthropic-shaped error answer for a credential failure (adapters translating to OpenAI's shape do so on top). */
export function anthropicAuthFailure(err: TokenError): UpstreamResponse {
  const body = anthropicErrorJson({ type: anthropicTypeForStatus(err.status), message: err.message });
  return { status: err.status, headers: { 'content-type': 'application/json' }, body: Readable.from([Buffer.from(body)]) };
}
