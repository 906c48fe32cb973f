// A fake Microsoft Entra ID and Azure OpenAI for tests, on 127.0.0.1, port 0. Entra: the v2.0
// token endpoint (`/{tenant}/oauth2/v2.0/token`, client credentials with a client secret or a
// client assertion, checked field by field) and the instance metadata service's managed
// identity endpoint (`Metadata: true` required; `expires_in` a string, as Azure sends it). Both
// issue JWT-shaped tokens it keeps. Azure OpenAI: `/openai/deployments/{name}/chat/completions`
// refuses a bearer token it did not issue (401, Azure's shape) and forwards the rest to a fake
// OpenAI upstream, whose wire format comes back as it is.
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { fakeControls, listenOnLoopback, type FakeControls } from './loopback.ts';

export const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
export const CLIENT_ID = '0f6a1b2c-3d4e-4f50-8a9b-0c1d2e3f4a5b';
export const SCOPE = 'https://cognitiveservices.azure.com/.default';

export interface AzureRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** Token requests: the form fields. */
  form: Record<string, string>;
  /** Deployment calls: the bearer token was one this fake issued and still accepts. */
  authorized?: boolean;
}

export type FakeAzure = FakeControls<Record<string, never>, AzureRequest> & {
  clientSecret: string;
  /** The projected service account token AKS writes to AZURE_FEDERATED_TOKEN_FILE. */
  federatedToken: string;
  /** Tokens issued, with the grant that got each: secret, assertion or managed-identity. */
  issued: { token: string; via: string }[];
  /** Stop accepting every token issued so far. */
  revokeTokens(): void;
};

export async function startFakeAzure(openAiUrl: string): Promise<FakeAzure> {
  const requests: AzureRequest[] = [];
  const issued: FakeAzure['issued'] = [];
  const accepted = new Set<string>();
  const clientSecret = `azsecret~${randomBytes(18).toString('base64url')}`;
  const federatedToken = `eyJhbGciOiJSUzI1NiIsImtpZCI6ImFrcyJ9.${randomBytes(30).toString('base64url')}.${randomBytes(30).toString('base64url')}`;

  const json = (res: ServerResponse, status: number, v: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(v));
  };
  const issue = (via: string): string => {
    const token = `eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.${randomBytes(24).toString('base64url')}.${randomBytes(24).toString('base64url')}`;
    issued.push({ token, via });
    accepted.add(token);
    return token;
  };
  const refuse = (res: ServerResponse, error: string, description: string): void => json(res, 401, { error, error_description: description, error_codes: [7000215] });

  function token(form: Record<string, string>, tenant: string, res: ServerResponse): void {
    if (tenant !== TENANT) return json(res, 400, { error: 'invalid_request', error_description: `AADSTS90002: Tenant '${tenant}' not found.` });
    if (form['grant_type'] !== 'client_credentials' || form['scope'] !== SCOPE) return json(res, 400, { error: 'invalid_request', error_description: 'AADSTS900144: grant_type or scope' });
    if (form['client_id'] !== CLIENT_ID) return refuse(res, 'unauthorized_client', `AADSTS700016: Application '${form['client_id'] ?? ''}' not found`);
    let via: string;
    if ('client_secret' in form) {
      if (form['client_secret'] !== clientSecret) return refuse(res, 'invalid_client', 'AADSTS7000215: Invalid client secret provided.');
      via = 'secret';
    } else {
      if (form['client_assertion_type'] !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' || form['client_assertion'] !== federatedToken) {
        return refuse(res, 'invalid_client', 'AADSTS700211: No matching federated identity record found for presented assertion.');
      }
      via = 'assertion';
    }
    json(res, 200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: issue(via) });
  }

  async function deployment(url: string, headers: IncomingHttpHeaders, raw: string, entry: AzureRequest, res: ServerResponse): Promise<void> {
    const bearer = /^Bearer (.+)$/.exec(headers['authorization'] ?? '')?.[1];
    entry.authorized = bearer !== undefined && accepted.has(bearer);
    if (!entry.authorized) return json(res, 401, { error: { code: '401', message: 'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.' } });
    const up = await fetch(`${openAiUrl}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: raw });
    res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/json' });
    if (up.body) for await (const chunk of up.body) res.write(chunk);
    res.end();
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url ?? '/', 'http://fake');
      const entry: AzureRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, form: req.method === 'POST' && !url.pathname.startsWith('/openai/') ? Object.fromEntries(new URLSearchParams(raw)) : {} };
      requests.push(entry);
      const t = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(url.pathname);
      if (t && req.method === 'POST') return token(entry.form, decodeURIComponent(t[1]!), res);
      if (url.pathname === '/metadata/identity/oauth2/token') {
        if (req.headers['metadata'] !== 'true') return json(res, 400, { error: 'invalid_request', error_description: 'Required metadata header not specified' });
        if (url.searchParams.get('resource') !== 'https://cognitiveservices.azure.com') return json(res, 400, { error: 'invalid_resource', error_description: 'AADSTS500011: resource not found' });
        return json(res, 200, { access_token: issue('managed-identity'), expires_in: '3599', expires_on: String(Math.floor(Date.now() / 1000) + 3599), resource: 'https://cognitiveservices.azure.com', token_type: 'Bearer' });
      }
      if (/^\/openai\/deployments\/[^/]+\/chat\/completions$/.test(url.pathname)) return void deployment(url.pathname, req.headers, raw, entry, res);
      json(res, 404, { error: { code: '404', message: 'Resource not found' } });
    });
  });

  const listening = await listenOnLoopback(server);
  return {
    ...fakeControls(listening, requests, () => undefined, {}),
    clientSecret,
    federatedToken,
    issued,
    revokeTokens() {
      accepted.clear();
    },
  };
}
