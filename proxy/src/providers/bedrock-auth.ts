// How a request to Bedrock proves who sends it: a Bedrock API key as `Authorization: Bearer`,
// or an AWS Signature Version 4 over the method, path, headers and body (service `bedrock`),
// signed by the AWS SDK's own signer (aws-wire.ts) with the configured keys or, without them,
// with credentials from the AWS default chain (aws-credentials.ts; the signer asks for them on
// every request and gets the cached ones). The headers returned carry the credentials: they go
// on the wire and nowhere else (the attempt record keeps bodies only).
import type { ProviderConfig } from '@gatelog/core';
import { SignatureV4, sha256 } from './aws-wire.ts';
import { cachedCredentials, chainLookup, type AwsCredentials, type CredentialSource } from './aws-credentials.ts';

/** The full header set for one POST of `body` to `path` on the provider's origin. */
export type BedrockAuth = (path: string, body: string, headers: Readonly<Record<string, string>>) => Promise<Record<string, string>>;

export function bedrockAuth(name: string, cfg: ProviderConfig, url: URL): BedrockAuth {
  if (cfg.api_key) {
    const bearer = `Bearer ${cfg.api_key}`;
    return (_path, _body, headers) => Promise.resolve({ ...headers, authorization: bearer });
  }
  // The config loader has already required a region (cloud-credentials.ts).
  if (!cfg.region) throw new Error(`provider ${name}: region is required`);
  const signer = new SignatureV4({ service: 'bedrock', region: cfg.region, credentials: awsCredentials(name, cfg, cfg.region), sha256 });
  const protocol = url.protocol;
  const hostname = url.hostname;
  const port = url.port === '' ? undefined : Number(url.port);
  return async (path, body, headers) => {
    const signed = await signer.sign({ method: 'POST', protocol, hostname, ...(port !== undefined ? { port } : {}), path, query: {}, headers: { ...headers, host: url.host }, body });
    return signed.headers;
  };
}

/** The configured keys, else the default chain's; with `aws_role_arn`, that role assumed with either. */
export function awsCredentials(name: string, cfg: ProviderConfig, region: string): AwsCredentials | CredentialSource {
  const accessKeyId = cfg.aws_access_key_id;
  const secretAccessKey = cfg.aws_secret_access_key;
  const keys = accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey, ...(cfg.aws_session_token ? { sessionToken: cfg.aws_session_token } : {}) } : undefined;
  if (keys && !cfg.aws_role_arn) return keys;
  const lookup = chainLookup({ region, profile: cfg.aws_profile, roleArn: cfg.aws_role_arn, roleSessionName: cfg.aws_role_session_name }, keys);
  const what = cfg.aws_role_arn ? `could not assume ${cfg.aws_role_arn}` : 'found no AWS credentials in the default chain';
  return cachedCredentials(lookup, `provider ${name}: ${what}`);
}
