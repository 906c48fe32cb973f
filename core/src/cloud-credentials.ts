// Credentials of the cloud provider kinds, completed from the environment the way the cloud's
// own SDKs do it, once, while the configuration is parsed. A `bedrock` provider authenticates
// with SigV4 keys (aws_access_key_id + aws_secret_access_key, optionally aws_session_token) or
// with a Bedrock API key (`api_key`, sent as a Bearer token). When the file gives neither,
// AWS_BEARER_TOKEN_BEDROCK is taken first (as the AWS SDKs do), then AWS_ACCESS_KEY_ID /
// AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN; without those the proxy asks the AWS default
// credential chain at run time (profiles, web identity, container and instance metadata:
// proxy/src/providers/aws-credentials.ts). That is refused here only when the chain can be
// known to find nothing: no source is set and instance metadata is disabled. Anything still
// missing is an issue naming the field; a secret never gets a default. A `vertex` provider
// authenticates as a Google service account: `credentials_file`, else
// GOOGLE_APPLICATION_CREDENTIALS, else the GCE / GKE metadata server's (`metadata_host`, else
// GCE_METADATA_HOST, else metadata.google.internal); its region is `region`, else
// CLOUD_ML_REGION (what Anthropic's Vertex SDK reads). An `azure` provider with `auth: entra`
// takes its Entra ID fields from the AZURE_* variables @azure/identity reads.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The provider fields this module reads and completes (a structural part of ProviderConfig). */
export interface CloudCredentialFields {
  kind: string;
  api_key?: string | undefined;
  region?: string | undefined;
  aws_access_key_id?: string | undefined;
  aws_secret_access_key?: string | undefined;
  aws_session_token?: string | undefined;
  aws_profile?: string | undefined;
  credentials_file?: string | undefined;
  metadata_host?: string | undefined;
  auth?: string | undefined;
  tenant_id?: string | undefined;
  client_id?: string | undefined;
  client_secret?: string | undefined;
  federated_token_file?: string | undefined;
  authority_host?: string | undefined;
  imds_host?: string | undefined;
}

export interface CredentialIssue {
  /** Path under `providers`: [name, field]. */
  path: [string, string];
  message: string;
}

type Env = Readonly<Record<string, string | undefined>>;

const set = (v: string | undefined): v is string => v !== undefined && v !== '';

const NOTHING_IN_CHAIN = 'no AWS credentials anywhere: set aws_access_key_id and aws_secret_access_key, or api_key (a Bedrock API key), '
  + 'or give gatelog credentials the AWS way (AWS_ACCESS_KEY_ID, AWS_PROFILE or aws_profile, AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN, '
  + 'AWS_CONTAINER_CREDENTIALS_FULL_URI, or instance metadata, which AWS_EC2_METADATA_DISABLED turns off)';

/**
 * The AWS default chain certainly finds nothing: no profile, web identity or container source
 * is set, no shared config or credentials file exists, and instance metadata is disabled. (With
 * instance metadata on, only a lookup can tell: that happens at the first call.)
 */
function chainFindsNothing(p: CloudCredentialFields, env: Env): boolean {
  const imdsOff = set(env['AWS_EC2_METADATA_DISABLED']) && env['AWS_EC2_METADATA_DISABLED'] !== 'false';
  const sources = ['AWS_PROFILE', 'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_CONTAINER_CREDENTIALS_FULL_URI', 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI'];
  if (!imdsOff || set(p.aws_profile) || sources.some((k) => set(env[k]))) return false;
  const home = env['HOME'] ?? homedir();
  const files = [env['AWS_SHARED_CREDENTIALS_FILE'] ?? join(home, '.aws', 'credentials'), env['AWS_CONFIG_FILE'] ?? join(home, '.aws', 'config')];
  return !files.some((f) => existsSync(f));
}

function bedrock<P extends CloudCredentialFields>(name: string, p: P, env: Env, issues: CredentialIssue[]): P {
  const out: P = { ...p };
  const region = p.region ?? [env['AWS_REGION'], env['AWS_DEFAULT_REGION']].find(set);
  if (region === undefined) issues.push({ path: [name, 'region'], message: 'required for kind bedrock (or set AWS_REGION)' });
  else out.region = region;
  const keysGiven = set(p.aws_access_key_id) || set(p.aws_secret_access_key);
  if (set(p.api_key) && !keysGiven) return out;
  if (!keysGiven) {
    if (set(env['AWS_BEARER_TOKEN_BEDROCK'])) {
      out.api_key = env['AWS_BEARER_TOKEN_BEDROCK'];
      return out;
    }
    const envKeys = !set(p.aws_profile) && (set(env['AWS_ACCESS_KEY_ID']) || set(env['AWS_SECRET_ACCESS_KEY']));
    if (!envKeys) {
      if (chainFindsNothing(p, env)) issues.push({ path: [name, 'aws_access_key_id'], message: NOTHING_IN_CHAIN });
      return out;
    }
    out.aws_access_key_id = env['AWS_ACCESS_KEY_ID'];
    out.aws_secret_access_key = env['AWS_SECRET_ACCESS_KEY'];
    out.aws_session_token = p.aws_session_token ?? (set(env['AWS_SESSION_TOKEN']) ? env['AWS_SESSION_TOKEN'] : undefined);
  }
  if (!set(out.aws_access_key_id)) {
    issues.push({ path: [name, 'aws_access_key_id'], message: 'required with aws_secret_access_key (or set AWS_ACCESS_KEY_ID)' });
  } else if (!set(out.aws_secret_access_key)) {
    issues.push({ path: [name, 'aws_secret_access_key'], message: 'required with aws_access_key_id (or set AWS_SECRET_ACCESS_KEY)' });
  }
  if (set(p.api_key)) issues.push({ path: [name, 'api_key'], message: 'give either api_key (a Bedrock API key) or aws_access_key_id / aws_secret_access_key, not both' });
  return out;
}

function vertex<P extends CloudCredentialFields>(name: string, p: P, env: Env, issues: CredentialIssue[]): P {
  const out: P = { ...p };
  const region = p.region ?? (set(env['CLOUD_ML_REGION']) ? env['CLOUD_ML_REGION'] : undefined);
  if (region === undefined) issues.push({ path: [name, 'region'], message: 'required for kind vertex (a region such as us-east5, or global; or set CLOUD_ML_REGION)' });
  else out.region = region;
  const file = p.credentials_file ?? (set(env['GOOGLE_APPLICATION_CREDENTIALS']) ? env['GOOGLE_APPLICATION_CREDENTIALS'] : undefined);
  if (file !== undefined) out.credentials_file = file;
  // No key file: Application Default Credentials' last source, the GCE / GKE metadata server.
  else out.metadata_host = p.metadata_host ?? (set(env['GCE_METADATA_HOST']) ? env['GCE_METADATA_HOST'] : 'metadata.google.internal');
  return out;
}

/** Azure with `auth: entra`: the Entra ID fields the file leaves out, from the AZURE_* variables @azure/identity reads. */
function azure<P extends CloudCredentialFields>(name: string, p: P, env: Env, issues: CredentialIssue[]): P {
  if (p.auth !== 'entra') return p;
  const out: P = { ...p };
  const fields = [
    ['tenant_id', 'AZURE_TENANT_ID'], ['client_id', 'AZURE_CLIENT_ID'], ['client_secret', 'AZURE_CLIENT_SECRET'],
    ['federated_token_file', 'AZURE_FEDERATED_TOKEN_FILE'], ['authority_host', 'AZURE_AUTHORITY_HOST'], ['imds_host', 'AZURE_POD_IDENTITY_AUTHORITY_HOST'],
  ] as const;
  for (const [field, variable] of fields) {
    const v = env[variable];
    if (p[field] === undefined && set(v)) out[field] = v;
  }
  if (set(p.api_key)) issues.push({ path: [name, 'api_key'], message: 'give either api_key or auth: entra, not both' });
  if ((set(out.client_secret) || set(out.federated_token_file)) && !(set(out.tenant_id) && set(out.client_id))) {
    issues.push({ path: [name, set(out.tenant_id) ? 'client_id' : 'tenant_id'], message: 'required with a client secret or federated token file (or set AZURE_TENANT_ID / AZURE_CLIENT_ID)' });
  }
  return out;
}

const COMPLETE: Readonly<Record<string, typeof bedrock>> = { bedrock, vertex, azure };

/** The providers with their cloud credentials completed, and what is missing. Other kinds pass unchanged. */
export function withCloudCredentials<P extends CloudCredentialFields>(providers: Readonly<Record<string, P>>, env: Env): { providers: Record<string, P>; issues: CredentialIssue[] } {
  const issues: CredentialIssue[] = [];
  const out: Record<string, P> = {};
  for (const [name, p] of Object.entries(providers)) {
    const complete = COMPLETE[p.kind];
    out[name] = complete ? complete(name, p, env, issues) : p;
  }
  return { providers: out, issues };
}
