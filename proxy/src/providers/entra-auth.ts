// Microsoft Entra ID access tokens for Azure OpenAI (scope https://cognitiveservices.azure.com/.default),
// sent as `Authorization: Bearer` instead of `api-key`. Three sources, the first that is
// configured: client credentials with a secret; AKS Workload Identity (the projected service
// account token in AZURE_FEDERATED_TOKEN_FILE sent as a client assertion, read again at every
// exchange since the kubelet rotates it); else the managed identity of the VM / node, from the
// instance metadata service. Tokens are kept until shortly before they expire (upstream-auth.ts).
// https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow
// https://learn.microsoft.com/entra/identity/managed-identities-azure-resources/how-to-use-vm-token
import { readFile } from 'node:fs/promises';
import type { ProviderConfig } from '@gatelog/core';
import type { PoolFor } from './openai.ts';
import { TokenError, askSource, cachedTokens, tokenAnswer, type AccessTokens, type Exchanged } from './upstream-auth.ts';

export const COGNITIVE_SERVICES_SCOPE = 'https://cognitiveservices.azure.com/.default';
const IMDS_RESOURCE = 'https://cognitiveservices.azure.com';

/** GET or POST on `url` through its origin's pool. */
const ask = (poolFor: PoolFor, url: URL, what: string, init: { method: 'GET' | 'POST'; headers: Record<string, string>; body?: string }): Promise<{ status: number; raw: Buffer }> =>
  askSource(poolFor(url.origin, 4), what, { ...init, path: url.pathname + url.search });

/** The provider's Entra ID token source (the config loader has filled in tenant, client and the rest from AZURE_* variables). */
export function entraTokens(name: string, cfg: ProviderConfig, poolFor: PoolFor, now: () => number = Date.now): AccessTokens {
  const { tenant_id: tenant, client_id: client, client_secret: secret, federated_token_file: tokenFile } = cfg;
  if (tenant && client && (secret || tokenFile)) {
    const authority = (cfg.authority_host ?? 'https://login.microsoftonline.com').replace(/\/+$/, '');
    // A client secret or assertion never crosses a network in clear: plain HTTP only on loopback (a local test endpoint).
    const host = new URL(authority);
    if (host.protocol !== 'https:' && !/^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])$/.test(host.hostname)) {
      throw new Error(`provider ${name}: authority_host ${authority} must be https (plain http only on loopback)`);
    }
    const url = new URL(`${authority}/${encodeURIComponent(tenant)}/oauth2/v2.0/token`);
    const what = `provider ${name}: Entra ID token for client ${client}`;
    const exchange = async (): Promise<Exchanged> => {
      const form: Record<string, string> = { grant_type: 'client_credentials', client_id: client, scope: COGNITIVE_SERVICES_SCOPE };
      if (secret) form['client_secret'] = secret;
      else {
        let assertion: string;
        try {
          assertion = (await readFile(tokenFile!, 'utf8')).trim();
        } catch (err) {
          throw new TokenError(401, `${what}: cannot read the federated token file ${tokenFile!} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
        }
        form['client_assertion_type'] = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
        form['client_assertion'] = assertion;
      }
      const res = await ask(poolFor, url, what, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
      return tokenAnswer(res.status, res.raw, what);
    };
    return cachedTokens(exchange, what, now);
  }
  // Managed identity: system-assigned, or the user-assigned one named by client_id.
  const url = new URL(`${(cfg.imds_host ?? 'http://169.254.169.254').replace(/\/+$/, '')}/metadata/identity/oauth2/token`);
  url.search = new URLSearchParams({ 'api-version': '2018-02-01', resource: IMDS_RESOURCE, ...(client ? { client_id: client } : {}) }).toString();
  const what = `provider ${name}: managed identity token from ${url.origin}`;
  return cachedTokens(async () => {
    const res = await ask(poolFor, url, what, { method: 'GET', headers: { metadata: 'true' } });
    return tokenAnswer(res.status, res.raw, what);
  }, what, now);
}
