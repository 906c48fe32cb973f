// Google access tokens for a service account (OAuth 2.0 JWT bearer grant, RFC 7523): a JWT
// signed with the account's private key (RS256, jose) is exchanged at the key file's token_uri
// for an access token. The token is kept until a minute before it expires; concurrent callers
// share one exchange; a token the API refused (401) is dropped so the next call exchanges anew.
// https://developers.google.com/identity/protocols/oauth2/service-account#httprest
import { readFileSync } from 'node:fs';
import { SignJWT, importPKCS8, type CryptoKey } from 'jose';
import type { PoolFor } from './openai.ts';
import { parseJson, readAll } from './wire.ts';

export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
/** A token is renewed this long before Google says it expires. */
const EARLY_MS = 60_000;

export interface ServiceAccount {
  client_email: string;
  private_key: string;
  private_key_id?: string | undefined;
  token_uri: string;
  project_id?: string | undefined;
}

/** The key file of provider `name`; throws naming the field when it cannot be used. Never echoes its contents. */
export function readServiceAccount(name: string, file: string): ServiceAccount {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`provider ${name}: credentials_file ${file}: cannot read a JSON key file (${(err as NodeJS.ErrnoException).code ?? 'invalid JSON'})`, { cause: err });
  }
  const o = (v ?? {}) as Record<string, unknown>;
  const str = (k: string): string | undefined => (typeof o[k] === 'string' && o[k] !== '' ? o[k] : undefined);
  const email = str('client_email');
  const key = str('private_key');
  if (o['type'] !== 'service_account' || !email || !key) {
    throw new Error(`provider ${name}: credentials_file ${file}: not a service account key (type service_account with client_email and private_key)`);
  }
  return { client_email: email, private_key: key, private_key_id: str('private_key_id'), token_uri: str('token_uri') ?? 'https://oauth2.googleapis.com/token', project_id: str('project_id') };
}

/** The token endpoint refused or failed: `status` is what gatelog answers with. */
export class TokenError extends Error {
  override readonly name = 'TokenError';
  readonly code = 'GATELOG_ERR_UPSTREAM_AUTH';
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export interface AccessTokens {
  /** A valid access token (exchanged when there is none, or it is about to expire). */
  get(): Promise<string>;
  /** `token` was refused: the next get() exchanges a new one. */
  refused(token: string): void;
}

export function serviceAccountTokens(sa: ServiceAccount, poolFor: PoolFor, now: () => number = Date.now): AccessTokens {
  const tokenUrl = new URL(sa.token_uri);
  const pool = poolFor(tokenUrl.origin, 4);
  let key: Promise<CryptoKey> | null = null;
  let current: { token: string; renewAt: number } | null = null;
  let pending: Promise<string> | null = null;

  async function exchange(): Promise<string> {
    key ??= importPKCS8(sa.private_key, 'RS256');
    const iat = Math.floor(now() / 1000);
    const assertion = await new SignJWT({ scope: CLOUD_PLATFORM_SCOPE })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', ...(sa.private_key_id ? { kid: sa.private_key_id } : {}) })
      .setIssuer(sa.client_email)
      .setSubject(sa.client_email)
      .setAudience(sa.token_uri)
      .setIssuedAt(iat)
      .setExpirationTime(iat + 3600)
      .sign(await key);
    const body = new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }).toString();
    const res = await pool.request({ method: 'POST', path: tokenUrl.pathname + tokenUrl.search, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    const v = parseJson(await readAll(res.body)) as { access_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown } | undefined;
    if (res.statusCode >= 400 || typeof v?.access_token !== 'string') {
      // Google's own words (invalid_grant: Invalid JWT Signature, …), never the assertion.
      const why = [v?.error, v?.error_description].filter((x) => typeof x === 'string').join(': ') || `status ${res.statusCode}`;
      throw new TokenError(res.statusCode >= 500 ? 502 : 401, `Google token exchange for ${sa.client_email} failed: ${why}`);
    }
    const ttl = typeof v.expires_in === 'number' ? v.expires_in * 1000 : 3600_000;
    current = { token: v.access_token, renewAt: now() + Math.max(0, ttl - EARLY_MS) };
    return v.access_token;
  }

  return {
    get() {
      if (current && now() < current.renewAt) return Promise.resolve(current.token);
      pending ??= exchange().finally(() => {
        pending = null;
      });
      return pending;
    },
    refused(token) {
      if (current?.token === token) current = null;
    },
  };
}
