// Fake AWS credential sources for tests, on 127.0.0.1, port 0, in their wire formats: the
// ECS / EKS Pod Identity container credentials endpoint (GET with the Authorization token →
// `{AccessKeyId, SecretAccessKey, Token, Expiration}`) and STS (AWS query protocol:
// AssumeRoleWithWebIdentity with the web identity token, AssumeRole signed by the caller →
// XML). Every credential it hands out is temporary (ASIA… keys, a session token, an expiry
// `lifetimeMs` away) and kept, so a fake Bedrock can verify signatures made with it and refuse
// it once expired.
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { fakeControls, listenOnLoopback, type FakeControls } from './loopback.ts';

export interface IssuedKeys {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiresAt: number;
  /** Which grant produced them: container, web-identity or assume-role (with the role). */
  via: string;
}

export interface CredentialRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The STS form (empty for the container endpoint). */
  form: Record<string, string>;
}

export interface FakeAwsCredentialsBehaviour {
  /** Answer every request with this status (and nothing usable). */
  status?: number;
}

export type FakeAwsCredentials = FakeControls<FakeAwsCredentialsBehaviour, CredentialRequest> & {
  /** AWS_CONTAINER_CREDENTIALS_FULL_URI. */
  containerUri: string;
  /** What the container endpoint expects in Authorization (AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)). */
  authorizationToken: string;
  /** The web identity token STS accepts (the file behind AWS_WEB_IDENTITY_TOKEN_FILE). */
  webIdentityToken: string;
  issued: IssuedKeys[];
  /** The credentials with this access key id, if this fake issued them. */
  keysFor(accessKeyId: string): IssuedKeys | undefined;
};

export const ROLE_ARN = 'arn:aws:iam::123456789012:role/gatelog-bedrock';

const rand = (n: number): string => randomBytes(n).toString('base64url');

export async function startFakeAwsCredentials(lifetimeMs: number): Promise<FakeAwsCredentials> {
  let behaviour: FakeAwsCredentialsBehaviour = {};
  const requests: CredentialRequest[] = [];
  const issued: IssuedKeys[] = [];
  const authorizationToken = `pod-identity-token-${rand(12)}`;
  const webIdentityToken = `eyJhbGciOiJSUzI1NiJ9.${rand(24)}.${rand(24)}`;

  const issue = (via: string): IssuedKeys => {
    const k: IssuedKeys = {
      accessKeyId: `ASIA${randomBytes(8).toString('hex').toUpperCase()}`,
      secretAccessKey: rand(30),
      sessionToken: `IQoJb3JpZ2luX2VjEFAKE${rand(60)}`,
      expiresAt: Date.now() + lifetimeMs,
      via,
    };
    issued.push(k);
    return k;
  };

  const xml = (res: ServerResponse, status: number, body: string): void => {
    res.writeHead(status, { 'content-type': 'text/xml' });
    res.end(body);
  };
  const stsError = (res: ServerResponse, status: number, code: string, message: string): void =>
    xml(res, status, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>fake-sts-err</RequestId></ErrorResponse>`);

  function sts(form: Record<string, string>, headers: IncomingHttpHeaders, res: ServerResponse): void {
    const action = form['Action'];
    let k: IssuedKeys;
    if (action === 'AssumeRoleWithWebIdentity') {
      if (form['WebIdentityToken'] !== webIdentityToken) return stsError(res, 400, 'InvalidIdentityToken', 'Couldn\'t retrieve verification key from your identity provider');
      if (form['RoleArn'] !== ROLE_ARN) return stsError(res, 403, 'AccessDenied', 'Not authorized to perform sts:AssumeRoleWithWebIdentity');
      k = issue('web-identity');
    } else if (action === 'AssumeRole') {
      // Signed by the caller with credentials this fake issued earlier (the chain's).
      const id = /Credential=([A-Z0-9]+)\//.exec(String(headers['authorization'] ?? ''))?.[1];
      const base = id === undefined ? undefined : issued.find((x) => x.accessKeyId === id);
      if (!base || headers['x-amz-security-token'] !== base.sessionToken) return stsError(res, 403, 'InvalidClientTokenId', 'The security token included in the request is invalid.');
      k = issue(`assume-role:${form['RoleArn'] ?? ''}:${form['RoleSessionName'] ?? ''}`);
    } else {
      return stsError(res, 400, 'InvalidAction', `unknown action ${String(action)}`);
    }
    const result = action === 'AssumeRole' ? 'AssumeRoleResult' : 'AssumeRoleWithWebIdentityResult';
    xml(res, 200, `<${action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><${result}>`
      + `<Credentials><AccessKeyId>${k.accessKeyId}</AccessKeyId><SecretAccessKey>${k.secretAccessKey}</SecretAccessKey><SessionToken>${k.sessionToken}</SessionToken><Expiration>${new Date(k.expiresAt).toISOString()}</Expiration></Credentials>`
      + `<AssumedRoleUser><AssumedRoleId>AROAFAKE:${form['RoleSessionName'] ?? ''}</AssumedRoleId><Arn>arn:aws:sts::123456789012:assumed-role/gatelog-bedrock/${form['RoleSessionName'] ?? ''}</Arn></AssumedRoleUser>`
      + `</${result}><ResponseMetadata><RequestId>fake-sts-1</RequestId></ResponseMetadata></${action}Response>`);
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const form = req.method === 'POST' ? Object.fromEntries(new URLSearchParams(raw)) : {};
      requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, form });
      const b = behaviour;
      if (b.status !== undefined) {
        res.writeHead(b.status, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ Code: 'Failure', Message: 'fake failure' }));
      }
      if (req.method === 'POST') return sts(form, req.headers, res);
      if (req.url !== '/creds') {
        res.writeHead(404);
        return void res.end();
      }
      if (req.headers['authorization'] !== authorizationToken) {
        res.writeHead(401, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ Code: 'AccessDenied', Message: 'invalid authorization token' }));
      }
      const k = issue('container');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ AccessKeyId: k.accessKeyId, SecretAccessKey: k.secretAccessKey, Token: k.sessionToken, Expiration: new Date(k.expiresAt).toISOString(), AccountId: '123456789012' }));
    });
  });

  const listening = await listenOnLoopback(server);
  const keep = (b: FakeAwsCredentialsBehaviour): void => {
    behaviour = b;
  };
  return {
    ...fakeControls(listening, requests, keep, {}),
    containerUri: `${listening.url}/creds`,
    authorizationToken,
    webIdentityToken,
    issued,
    keysFor: (id) => issued.find((k) => k.accessKeyId === id),
  };
}
