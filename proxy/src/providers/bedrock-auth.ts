// How a request to Bedrock proves who sends it: a Bedrock API key as `Authorization: Bearer`,
// or an AWS Signature Version 4 over the method, path, headers and body (service `bedrock`),
// signed by the AWS SDK's own signer (aws-wire.ts). The headers returned carry the
// credentials: they go on the wire and nowhere else (the attempt record keeps bodies only).
import type { ProviderConfig } from '@gatelog/core';
import { SignatureV4, sha256 } from './aws-wire.ts';

/** The full header set for one POST of `body` to `path` on the provider's origin. */
export type BedrockAuth = (path: string, body: string, headers: Readonly<Record<string, string>>) => Promise<Record<string, string>>;

export function bedrockAuth(name: string, cfg: ProviderConfig, url: URL): BedrockAuth {
  if (cfg.api_key) {
    const bearer = `Bearer ${cfg.api_key}`;
    return (_path, _body, headers) => Promise.resolve({ ...headers, authorization: bearer });
  }
  const accessKeyId = cfg.aws_access_key_id;
  const secretAccessKey = cfg.aws_secret_access_key;
  // The config loader has already refused a bedrock provider without either (cloud-credentials.ts).
  if (!accessKeyId || !secretAccessKey || !cfg.region) throw new Error(`provider ${name}: region and AWS credentials are required`);
  const signer = new SignatureV4({
    service: 'bedrock',
    region: cfg.region,
    credentials: { accessKeyId, secretAccessKey, ...(cfg.aws_session_token ? { sessionToken: cfg.aws_session_token } : {}) },
    sha256,
  });
  const protocol = url.protocol;
  const hostname = url.hostname;
  const port = url.port === '' ? undefined : Number(url.port);
  return async (path, body, headers) => {
    const signed = await signer.sign({ method: 'POST', protocol, hostname, ...(port !== undefined ? { port } : {}), path, query: {}, headers: { ...headers, host: url.host }, body });
    return signed.headers;
  };
}
