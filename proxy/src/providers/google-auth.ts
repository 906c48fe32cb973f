// Google access tokens, from one of two sources. A service account key file (OAuth 2.0 JWT
// bearer grant, RFC 7523): a JWT signed with the account's private key (RS256, jose) is
// exchanged at the key file's token_uri. Or, without a key file, the metadata server of the GCE
// VM / GKE node (GKE Workload Identity answers there for the pod's Kubernetes service account):
// its default service account's token, and the project id. Either way the token is kept until a
// minute before it expires; concurrent callers share one exchange, bounded in time; a token the
// API refused (401) is dropped so the next call exchanges anew.
// https://developers.google.com/identity/protocols/oauth2/service-account#httprest
// https://cloud.google.com/compute/docs/metadata/querying-metadata
import { readFileSync } from 'node:fs';
import type { CryptoKey } from 'jose';
import type { PoolFor } from './openai.ts';
import { readAll } from './wire.ts';
import { TokenError, askSource, cachedTokens, tokenAnswer, type AccessTokens, type Exchanged } from './upstream-auth.ts';

export { TokenError, type AccessTokens };

export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

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

export function serviceAccountTokens(sa: ServiceAccount, poolFor: PoolFor, now: () => number = Date.now): AccessTokens {
  const tokenUrl = new URL(sa.token_uri);
  const pool = poolFor(tokenUrl.origin, 4);
  const what = `Google token exchange for ${sa.client_email}`;
  let key: Promise<CryptoKey> | null = null;

  async function exchange(): Promise<Exchanged> {
    // jose loads on the first exchange, not at start (most deployments have no Vertex provider).
    const { SignJWT, importPKCS8 } = await import('jose');
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
    return tokenAnswer(res.statusCode, await readAll(res.body), what);
  }

  return cachedTokens(exchange, what, now);
}

/** The metadata server's tokens for its default service account, and the project it runs in. */
export interface MetadataServer {
  tokens: AccessTokens;
  /** The project id (asked once; asked again after a failure). */
  project(): Promise<string>;
}

/** `host` is GCE_METADATA_HOST's form: a host or host:port, spoken to over plain HTTP as Google's libraries do. */
export function metadataServer(name: string, host: string, poolFor: PoolFor, now: () => number = Date.now): MetadataServer {
  const pool = poolFor(`http://${host}`, 4);
  const what = `provider ${name}: the metadata server at ${host}`;
  /** GET `path` with Metadata-Flavor: Google. */
  const get = (path: string): Promise<{ status: number; raw: Buffer }> =>
    askSource(pool, what, { method: 'GET', path: `/computeMetadata/v1/${path}`, headers: { 'metadata-flavor': 'Google' } }, ': is gatelog on GCE or GKE (or GOOGLE_APPLICATION_CREDENTIALS set)?');
  const tokens = cachedTokens(async () => {
    const res = await get('instance/service-accounts/default/token');
    return tokenAnswer(res.status, res.raw, `${what}: token`);
  }, what, now);
  let project: Promise<string> | null = null;
  return {
    tokens,
    project() {
      if (project) return project;
      const asked = get('project/project-id').then((res) => {
        const id = res.raw.toString('utf8').trim();
        if (res.status >= 400 || id === '') throw new TokenError(res.status >= 500 ? 502 : 401, `${what}: no project id (status ${res.status}); set project`);
        return id;
      });
      project = asked;
      // A failure is the caller's to answer; the next call asks again.
      asked.catch(() => {
        if (project === asked) project = null;
      });
      return asked;
    },
  };
}
