// A real OpenID Connect provider (the `oidc-provider` package) on 127.0.0.1 for single sign-on
// tests. Its port is known before the client is registered (gatelog's redirect URL depends on a
// port gatelog picks itself), so: `listenIdp()` → start gatelog with `issuer` → `start()` with
// the redirect URI. Its built-in login form (devInteractions) signs in as any `login` typed into
// it; `findAccount` answers that person's claims from `people` ({email, email_verified, groups}).
// Consent is granted without a prompt, as an organisation's own provider does for its own apps.
// Logout: RP-initiated logout (its /session/end page) always; back-channel logout when `start`
// is given a `backchannelLogoutUri` (the provider then puts `sid` in ID tokens and POSTs a
// logout token there when a person signs out at /session/end). `sign` makes tokens with the
// provider's own key (or a stranger's under the same key id), for tests of what gatelog refuses.
import { createSign, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider, { type KoaContextWithOIDC } from 'oidc-provider';

export interface IdpPerson {
  email: string;
  email_verified?: boolean;
  groups: string[];
  name?: string;
}

export interface Idp {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** People by the login typed into the provider's form. */
  people: Map<string, IdpPerson>;
  start(redirectUris: string[], logout?: IdpLogout): void;
  /** A compact JWS (RS256, kid `test-key`) of `payload`, signed with the provider's key or, with `foreign`, another one. */
  sign(payload: Record<string, unknown>, opts?: { foreign?: boolean; header?: Record<string, unknown> }): string;
  close(): Promise<void>;
}

export interface IdpLogout {
  /** Registered as the client's post_logout_redirect_uris. */
  postLogoutRedirectUris?: string[];
  /** Registered as the client's backchannel_logout_uri (with backchannel_logout_session_required). */
  backchannelLogoutUri?: string;
}

const b64url = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
function signWith(key: KeyObject, payload: Record<string, unknown>, header: Record<string, unknown>): string {
  const input = `${b64url({ alg: 'RS256', kid: 'test-key', ...header })}.${b64url(payload)}`;
  return `${input}.${createSign('RSA-SHA256').update(input).sign(key).toString('base64url')}`;
}

/** The provider's fetch without its guard against special-use addresses (its default dispatcher). */
function loopbackFetch(url: Parameters<typeof fetch>[0], options: RequestInit & { dispatcher?: unknown } = {}): Promise<Response> {
  const { dispatcher: _guard, ...rest } = options;
  return globalThis.fetch(url, rest);
}

export async function listenIdp(): Promise<Idp> {
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server = createServer((req, res) => {
    if (handler) handler(req, res);
    else res.writeHead(503).end('not started');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const people = new Map<string, IdpPerson>();
  const clientId = `gatelog-${randomUUID().slice(0, 8)}`;
  const clientSecret = randomUUID();
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'test-key', alg: 'RS256', use: 'sig' };
  const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

  return {
    issuer, clientId, clientSecret, people,
    sign: (payload, opts = {}) => signWith(opts.foreign ? stranger : privateKey, payload, opts.header ?? {}),
    start(redirectUris, logout = {}) {
      const provider = new Provider(issuer, {
        clients: [{
          client_id: clientId, client_secret: clientSecret, redirect_uris: redirectUris, grant_types: ['authorization_code'], response_types: ['code'],
          ...(logout.postLogoutRedirectUris ? { post_logout_redirect_uris: logout.postLogoutRedirectUris } : {}),
          ...(logout.backchannelLogoutUri ? { backchannel_logout_uri: logout.backchannelLogoutUri, backchannel_logout_session_required: true } : {}),
        }],
        features: { rpInitiatedLogout: { enabled: true }, backchannelLogout: { enabled: true } },
        // Its outgoing requests (logout tokens) refuse loopback addresses, where gatelog runs in tests.
        fetch: loopbackFetch,
        jwks: { keys: [jwk] },
        cookies: { keys: [randomUUID()] },
        pkce: { required: () => true },
        ttl: { Interaction: 600, Grant: 3600, Session: 3600, AccessToken: 600, IdToken: 600, AuthorizationCode: 60 },
        scopes: ['openid', 'email', 'profile', 'groups'],
        claims: { email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] },
        findAccount(_ctx: KoaContextWithOIDC, id: string) {
          const p = people.get(id);
          if (!p) return undefined;
          return { accountId: id, claims: () => ({ sub: id, email: p.email, email_verified: p.email_verified ?? true, groups: p.groups, name: p.name ?? id }) };
        },
        async loadExistingGrant(ctx: KoaContextWithOIDC) {
          const session = ctx.oidc.session;
          const client = ctx.oidc.client;
          if (!session?.accountId || !client) return undefined;
          const existing = session.grantIdFor(client.clientId);
          if (existing) return ctx.oidc.provider.Grant.find(existing);
          const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
          grant.addOIDCScope('openid email profile groups');
          await grant.save();
          session.ensureClientContainer(client.clientId);
          session.grantIdFor(client.clientId, grant.jti);
          return grant;
        },
      });
      const callback = provider.callback();
      // Koa answers errors itself; a rejection here would be a bug in the provider.
      const serve = (req: IncomingMessage, res: ServerResponse): void => void callback(req, res);
      handler = serve;
    },
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
