// Secrets an upstream echoes in an error answer ("Incorrect API key provided: sk-…", a proxy
// in front of it repeating the Authorization header) must not reach the client or the store.
// Every provider's error answers (HTTP status ≥ 400) are scrubbed as the adapter returns
// them, before routing, the relay or capture see a byte: the configured provider credentials
// (exact match, any provider's, since one upstream may front another's key) and common key
// shapes are replaced by `[redacted]`. Error answers are small and already buffered whole
// for retries; bigger ones are cut at ERROR_SCRUB_CAP (attempts keep 1 MiB of them anyway).
import { Readable } from 'node:stream';
import type { FilesApi, FilesRequest, FilesResponse, FilesStream, Provider, UpstreamResponse } from './types.ts';
import { readCapped } from '../read-capped.ts';

export const REDACTED = '[redacted]';
/** Configured secrets shorter than this are not matched exactly (they would hit ordinary words). */
const MIN_EXACT = 8;
const ERROR_SCRUB_CAP = 1 << 20;

/**
 * Key shapes, each a single linear pattern: OpenAI and Anthropic keys (sk-…, sk-proj-…,
 * sk-ant-…), AWS access key ids, GitHub tokens, Slack tokens, Google API keys, gatelog
 * virtual keys, JWTs, and whatever follows `Bearer ` or `Basic ` (any credential in a header).
 */
const SHAPES = [
  /\bsk-[A-Za-z0-9_-]{16,}/g,
  /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g,
  /\bgh[pousr]_[A-Za-z0-9]{30,}/g,
  /\bgithub_pat_[A-Za-z0-9_]{20,}/g,
  /\bxox[abposr]-[A-Za-z0-9-]{10,}/g,
  /\bAIza[0-9A-Za-z_-]{35}/g,
  /\bgl-[A-Za-z0-9_-]{40,}/g,
  /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g,
];
const AUTH_SCHEME = /\b(Bearer|Basic)(\s+)[A-Za-z0-9._~+/=-]{8,}/gi;

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export type Scrub = (text: string) => string;

/** A scrubber for `exact` secrets (the configured provider keys) and the common key shapes. */
export function createScrubber(exact: readonly string[]): Scrub {
  const secrets = [...new Set(exact.filter((s) => s.length >= MIN_EXACT))].sort((a, b) => b.length - a.length);
  const exactRe = secrets.length > 0 ? new RegExp(secrets.map(escapeRe).join('|'), 'g') : null;
  return (text) => {
    let out = exactRe ? text.replace(exactRe, REDACTED) : text;
    for (const re of SHAPES) out = out.replace(re, REDACTED);
    return out.replace(AUTH_SCHEME, (_m, scheme: string, sp: string) => `${scheme}${sp}${REDACTED}`);
  };
}

async function scrubbed(res: UpstreamResponse, scrub: Scrub): Promise<UpstreamResponse> {
  const raw = await readCapped(res.body, ERROR_SCRUB_CAP);
  const text = raw.toString('utf8');
  const clean = scrub(text);
  return { ...res, body: Readable.from(clean === text ? [raw] : [Buffer.from(clean, 'utf8')]) };
}

/** Files and Batches answers: an error's body scrubbed like a call's. */
function scrubbedFiles(f: FilesApi, scrub: Scrub): FilesApi {
  const clean = (body: Buffer): Buffer => Buffer.from(scrub(body.subarray(0, ERROR_SCRUB_CAP).toString('utf8')), 'utf8');
  const send = async (r: FilesRequest, maxBytes: number): Promise<FilesResponse> => {
    const res = await f.send(r, maxBytes);
    return res.status >= 400 ? { ...res, body: clean(res.body) } : res;
  };
  const stream = async (r: FilesRequest): Promise<FilesStream> => {
    const res = await f.stream(r);
    return res.status >= 400 ? { ...res, body: Readable.from([clean(await readCapped(res.body, ERROR_SCRUB_CAP))]) } : res;
  };
  return { send, stream };
}

/** `p` whose error answers (status ≥ 400) come back scrubbed. */
export function withScrubbedErrors(p: Provider, scrub: Scrub): Provider {
  return {
    name: p.name,
    kind: p.kind,
    priceProviderId: p.priceProviderId,
    models: p.models,
    files: p.files ? scrubbedFiles(p.files, scrub) : undefined,
    close: () => p.close(),
    async call(c) {
      // The attempt's raw copy of an error answer is scrubbed the same way when it is stored.
      if (c.tap) c.tap.scrub = scrub;
      const res = await p.call(c);
      return res.status >= 400 ? scrubbed(res, scrub) : res;
    },
  };
}
