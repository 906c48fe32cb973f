// AWS credentials of a `bedrock` provider configured without static keys or a Bedrock API key:
// the AWS SDK's default chain (environment; SSO; shared config and credentials files, with
// `aws_profile` or AWS_PROFILE; credential_process; web identity, which is EKS IRSA:
// AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN → STS AssumeRoleWithWebIdentity; ECS / EKS Pod
// Identity container credentials; EC2 instance metadata), optionally with `aws_role_arn`
// assumed on top (STS AssumeRole). https://docs.aws.amazon.com/sdkref/latest/guide/standardized-credentials.html
//
// Credentials are kept until shortly before they expire (5 minutes, as the AWS SDKs do, or half
// their remaining life when that is shorter): a call in that window is signed with the current
// ones while new ones are fetched beside it, and expired ones are never used. Concurrent callers
// share one lookup; a lookup that does not settle in time answers 502. The chain's own memo is
// bypassed (forceRefresh) since this one decides when to renew. Nothing here logs credentials.
import { fromNodeProviderChain, fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { TokenError, withinLookupTime } from './upstream-auth.ts';

export type AwsCredentials = Awaited<ReturnType<ReturnType<typeof fromNodeProviderChain>>>;
export type CredentialSource = () => Promise<AwsCredentials>;

/** Renewed this long before they expire (the AWS SDKs' own margin). */
const EARLY_MS = 300_000;

export interface ChainOptions {
  /** Region for STS (web identity, AssumeRole). */
  region: string;
  profile?: string | undefined;
  roleArn?: string | undefined;
  roleSessionName?: string | undefined;
}

/**
 * One unmemoized lookup: the chain's credentials, or those of `roleArn` assumed with `base` (the
 * configured keys) or the chain's. Container and instance metadata get 1 s per try, one retry.
 */
export function chainLookup(o: ChainOptions, base?: AwsCredentials): CredentialSource {
  const chain = base ? undefined : fromNodeProviderChain({ ...(o.profile ? { profile: o.profile } : {}), timeout: 1000, maxRetries: 1, clientConfig: { region: o.region } });
  if (!o.roleArn) return chain ? () => chain({ forceRefresh: true }) : () => Promise.resolve(base!);
  return fromTemporaryCredentials({ masterCredentials: base ?? chain, params: { RoleArn: o.roleArn, RoleSessionName: o.roleSessionName ?? 'gatelog' }, clientConfig: { region: o.region } });
}

/** A lookup failure as what the client is answered: refused or nothing found 401, a source that failed 502. */
function asTokenError(err: unknown, what: string): TokenError {
  if (err instanceof TokenError) return err;
  const e = (err ?? {}) as { name?: unknown; message?: unknown; $fault?: unknown };
  const reason = (typeof e.message === 'string' ? e.message.split('\n')[0]! : String(err)).slice(0, 300);
  const refused = e.name === 'CredentialsProviderError' || e.$fault === 'client';
  return new TokenError(refused ? 401 : 502, `${what} (${reason})`, { cause: err });
}

/** `lookup` behind a cache that renews before expiry. `what` names the provider in errors. */
export function cachedCredentials(lookup: CredentialSource, what: string, now: () => number = Date.now, timeoutMs?: number): CredentialSource {
  let current: { creds: AwsCredentials; renewAt: number; expiresAt: number } | null = null;
  let pending: Promise<AwsCredentials> | null = null;
  const refresh = (): Promise<AwsCredentials> => {
    pending ??= lookup()
      .then((creds) => {
        const t = now();
        const expiresAt = creds.expiration?.getTime() ?? Infinity;
        current = { creds, expiresAt, renewAt: expiresAt - Math.min(EARLY_MS, (expiresAt - t) / 2) };
        return creds;
      }, (err: unknown) => {
        throw asTokenError(err, what);
      })
      .finally(() => {
        pending = null;
      });
    return pending;
  };
  return () => {
    const c = current;
    if (c) {
      const t = now();
      if (t < c.renewAt) return Promise.resolve(c.creds);
      if (t < c.expiresAt) {
        // Still valid: this call goes with them; a failed renewal is tried again by the next call.
        refresh().catch(() => undefined);
        return Promise.resolve(c.creds);
      }
    }
    return withinLookupTime(refresh(), what, timeoutMs);
  };
}
