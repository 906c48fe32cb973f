import { describe, expect, it } from 'vitest';
import { parseConfig } from './config-load.ts';

const cfg = (p: Record<string, unknown>, env: Record<string, string> = {}) => () => parseConfig({ providers: { b: { kind: 'bedrock', ...p } } }, 'gatelog.yaml', env);

describe('cloud provider credentials', () => {
  it('a missing credential or region is an error naming the field', () => {
    expect(cfg({ region: 'us-east-1', aws_access_key_id: 'AKIAXXXXXXXXXXXXXXXX' })).toThrow(/providers\.b\.aws_secret_access_key: required/);
    expect(cfg({ api_key: 'k' })).toThrow(/providers\.b\.region: required for kind bedrock/);
    expect(cfg({ region: 'us-east-1', api_key: 'k', aws_access_key_id: 'AKIA', aws_secret_access_key: 's' })).toThrow(/providers\.b\.api_key: give either/);
  });

  it('without keys the AWS default chain is asked at run time; refused at start only when it certainly finds nothing', () => {
    const keyless = cfg({ region: 'us-east-1' }, { HOME: '/nonexistent' })().providers['b']!;
    expect(keyless.aws_access_key_id).toBeUndefined();
    expect(keyless.api_key).toBeUndefined();
    const nothing = { HOME: '/nonexistent', AWS_EC2_METADATA_DISABLED: 'true' };
    expect(cfg({ region: 'us-east-1' }, nothing)).toThrow(/gatelog\.yaml: providers\.b\.aws_access_key_id: no AWS credentials anywhere/);
    const sources: Record<string, string>[] = [{ AWS_PROFILE: 'p' }, { AWS_WEB_IDENTITY_TOKEN_FILE: '/t', AWS_ROLE_ARN: 'arn:aws:iam::1:role/r' }, { AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://127.0.0.1:1/creds' }];
    for (const source of sources) {
      expect(cfg({ region: 'us-east-1' }, { ...nothing, ...source })).not.toThrow();
    }
    expect(cfg({ region: 'us-east-1', aws_profile: 'prod' }, nothing)).not.toThrow();
    // A profile named in the file is asked instead of keys in the environment.
    expect(cfg({ region: 'us-east-1', aws_profile: 'prod' }, { AWS_ACCESS_KEY_ID: 'AKIAENV', AWS_SECRET_ACCESS_KEY: 's' })().providers['b']!.aws_access_key_id).toBeUndefined();
  });

  it('the message never echoes a secret', () => {
    expect(cfg({ region: 'us-east-1', aws_secret_access_key: 'SUPERSECRETVALUE' })).toThrow(/aws_access_key_id/);
    expect(cfg({ region: 'us-east-1', aws_secret_access_key: 'SUPERSECRETVALUE' })).not.toThrow(/SUPERSECRETVALUE/);
  });

  it('the environment fills in what the file leaves out, a Bedrock API key first', () => {
    const keys = { AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'AKIAENV', AWS_SECRET_ACCESS_KEY: 'envsecret', AWS_SESSION_TOKEN: 'envtoken' };
    expect(cfg({}, keys)().providers['b']).toMatchObject({ region: 'eu-west-1', aws_access_key_id: 'AKIAENV', aws_secret_access_key: 'envsecret', aws_session_token: 'envtoken' });
    const bearer = cfg({}, { ...keys, AWS_BEARER_TOKEN_BEDROCK: 'bedrock-key' })().providers['b']!;
    expect(bearer.api_key).toBe('bedrock-key');
    expect(bearer.aws_access_key_id).toBeUndefined();
    // What the file says wins over the environment.
    expect(cfg({ region: 'us-west-2', aws_access_key_id: 'AKIAFILE', aws_secret_access_key: 'filesecret' }, { ...keys, AWS_BEARER_TOKEN_BEDROCK: 'x' })().providers['b'])
      .toMatchObject({ region: 'us-west-2', aws_access_key_id: 'AKIAFILE', aws_secret_access_key: 'filesecret' });
    expect(cfg({}, { AWS_DEFAULT_REGION: 'ap-south-1', AWS_BEARER_TOKEN_BEDROCK: 'k' })().providers['b']!.region).toBe('ap-south-1');
  });

  it('vertex: region and key file from the file or CLOUD_ML_REGION / GOOGLE_APPLICATION_CREDENTIALS, else the metadata server; no region is an error naming the field', () => {
    const v = (p: Record<string, unknown>, env: Record<string, string> = {}) => () => parseConfig({ providers: { v: { kind: 'vertex', ...p } } }, 'gatelog.yaml', env);
    // No key file anywhere: the metadata server (GCE_METADATA_HOST, else Google's own name).
    expect(v({ region: 'us-east5' })().providers['v']).toMatchObject({ metadata_host: 'metadata.google.internal' });
    expect(v({ region: 'us-east5' }, { GCE_METADATA_HOST: '127.0.0.1:8080' })().providers['v']).toMatchObject({ metadata_host: '127.0.0.1:8080' });
    expect(v({}, { CLOUD_ML_REGION: 'global', GOOGLE_APPLICATION_CREDENTIALS: '/sa.json', GCE_METADATA_HOST: 'x' })().providers['v']!.metadata_host).toBeUndefined();
    expect(v({ credentials_file: '/k.json' })).toThrow(/providers\.v\.region: required for kind vertex/);
    expect(v({}, { CLOUD_ML_REGION: 'global', GOOGLE_APPLICATION_CREDENTIALS: '/sa.json' })().providers['v']).toMatchObject({ region: 'global', credentials_file: '/sa.json' });
    expect(v({ region: 'us-east5', credentials_file: '/mine.json' }, { CLOUD_ML_REGION: 'global', GOOGLE_APPLICATION_CREDENTIALS: '/sa.json' })().providers['v'])
      .toMatchObject({ region: 'us-east5', credentials_file: '/mine.json' });
  });

  it('azure with auth: entra: Entra ID fields from the file or the AZURE_* variables; a key beside it, or a secret without tenant, is an error', () => {
    const a = (p: Record<string, unknown>, env: Record<string, string> = {}) => () => parseConfig({ providers: { a: { kind: 'azure', base_url: 'https://r.openai.azure.com', ...p } } }, 'gatelog.yaml', env);
    const env = { AZURE_TENANT_ID: 't', AZURE_CLIENT_ID: 'c', AZURE_FEDERATED_TOKEN_FILE: '/var/run/secrets/azure/tokens/azure-identity-token', AZURE_AUTHORITY_HOST: 'https://login.microsoftonline.com/' };
    expect(a({ auth: 'entra' }, env)().providers['a']).toMatchObject({ tenant_id: 't', client_id: 'c', federated_token_file: env.AZURE_FEDERATED_TOKEN_FILE, authority_host: env.AZURE_AUTHORITY_HOST });
    expect(a({ auth: 'entra', client_id: 'mine' }, env)().providers['a']!.client_id).toBe('mine');
    // Without auth: entra the variables are not read (an api-key provider stays one).
    expect(a({ api_key: 'k' }, env)().providers['a']!.tenant_id).toBeUndefined();
    expect(a({ auth: 'entra', api_key: 'k' })).toThrow(/providers\.a\.api_key: give either api_key or auth: entra/);
    expect(a({ auth: 'entra', client_secret: 's' })).toThrow(/providers\.a\.tenant_id: required with a client secret/);
    // Nothing at all: the managed identity.
    expect(a({ auth: 'entra' })).not.toThrow();
  });

  it('other kinds are left as they are', () => {
    const c = parseConfig({ providers: { o: { kind: 'openai', base_url: 'http://127.0.0.1:1/v1' } } }, 'gatelog.yaml', { AWS_ACCESS_KEY_ID: 'AKIA' });
    expect(c.providers['o']!.aws_access_key_id).toBeUndefined();
  });
});
