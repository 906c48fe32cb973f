import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.ts';

/** Every line the logger writes for `fields`, parsed. */
async function logged(fields: Record<string, unknown>): Promise<string> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  createLogger('info', out).info(fields, 'line');
  await new Promise((r) => setImmediate(r));
  return text;
}

describe('logger redaction', () => {
  it.each([
    ['an Entra ID client secret', { provider: { kind: 'azure', client_secret: 'SECRET-azure-1' } }],
    ['a service account key', { credentials: { type: 'service_account', private_key: '-----BEGIN PRIVATE KEY-----SECRET-pk' } }],
    ['a ClickHouse password', { clickhouse: { url: 'http://ch:8123', password: 'SECRET-ch' } }],
    ['OAuth tokens', { tokens: { access_token: 'SECRET-at', refresh_token: 'SECRET-rt', id_token: 'SECRET-it' } }],
    ['a UI session cookie', { req: { headers: { cookie: 'gatelog_session=SECRET-cookie' } } }],
    ['a Set-Cookie answer', { headers: { 'set-cookie': 'gatelog_session=SECRET-set' } }],
    ['a Google API key header', { headers: { 'x-goog-api-key': 'SECRET-goog' } }],
    ['a provider key', { api_key: 'SECRET-top', provider: { api_key: 'SECRET-nested' } }],
  ])('%s never reaches the log', async (_what, fields) => {
    const line = await logged(fields);
    expect(line).toContain('"msg":"line"');
    expect(line).toContain('[redacted]');
    expect(line).not.toContain('SECRET');
  });

  it('keeps the fields around a secret', async () => {
    const line = await logged({ provider: { kind: 'azure', client_secret: 'SECRET-x', tenant_id: 't-1' } });
    expect(JSON.parse(line)).toMatchObject({ provider: { kind: 'azure', client_secret: '[redacted]', tenant_id: 't-1' } });
  });
});
