// DNS rebinding against an open gatelog (no master key): a page on evil.example whose name is
// re-pointed at 127.0.0.1 sends requests with `Host: evil.example`. None of them may reach the
// UI, the admin API or the model API; the loopback names keep working; server.allowed_hosts
// replaces the default.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';
import { sendWithHost as send } from '../support/host-request.ts';

const chat = { model: 'mock-chat', messages: [{ role: 'user', content: 'hi' }] };
const messages = { model: 'mock-chat', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] };

describe('open gatelog (no master key): only loopback host names are answered', () => {
  let gl: GatelogProcess;
  let port: string;
  beforeAll(async () => {
    gl = await startGatelog({ timeoutMs: 60_000 });
    port = new URL(gl.url).port;
  }, 90_000);
  afterAll(async () => {
    await gl?.stop();
  });

  it('refuses every surface for Host: evil.example, in that surface\'s error shape', async () => {
    const evil = 'evil.example';
    for (const path of ['/', '/requests', '/export?format=jsonl', '/keys', '/login']) {
      const r = await send(gl.url, 'GET', path, `${evil}:${port}`);
      expect(r.status, path).toBe(403);
      expect(r.type, path).toMatch(/^text\/plain/);
      expect(r.body, path).toMatch(/allowed_hosts/);
    }
    // The UI's own form POST, with the Origin a rebound page would send.
    const form = await send(gl.url, 'POST', '/keys?/create', evil, 'name=stolen', { origin: `http://${evil}` });
    expect(form.status).toBe(403);

    const admin = await send(gl.url, 'POST', '/admin/keys', evil, { name: 'stolen' });
    expect(admin.status).toBe(403);
    expect(JSON.parse(admin.body)).toMatchObject({ error: { code: 'host_not_allowed', type: 'permission_error' } });
    for (const path of ['/admin/calls', '/admin/keys', '/admin/audit', '/metrics']) {
      const r = await send(gl.url, 'GET', path, evil);
      expect(r.status, path).toBe(403);
      expect(JSON.parse(r.body), path).toMatchObject({ error: { code: 'host_not_allowed' } });
    }
    const openai = await send(gl.url, 'POST', '/v1/chat/completions', evil, chat);
    expect(openai.status).toBe(403);
    expect(JSON.parse(openai.body)).toMatchObject({ error: { code: 'host_not_allowed', type: 'permission_error' } });
    const anthropic = await send(gl.url, 'POST', '/v1/messages', evil, messages);
    expect(anthropic.status).toBe(403);
    expect(JSON.parse(anthropic.body)).toMatchObject({ type: 'error', error: { type: 'permission_error' } });
    expect(JSON.parse(anthropic.body).error.message).toMatch(/allowed_hosts/);

    // Near misses are not loopback either.
    for (const host of ['localhost.evil.example', 'evil.example#@localhost', '127.0.0.1.nip.io', 'localhost@evil.example', 'localhost:abc']) {
      const r = await send(gl.url, 'GET', '/v1/models', host);
      expect(r.status, host).toBe(403);
    }
    // Nothing was created through any of it.
    const keys = await send(gl.url, 'GET', '/admin/keys', `127.0.0.1:${port}`);
    expect(keys.status).toBe(200);
    expect(JSON.parse(keys.body).data).toEqual([]);
  });

  it('answers the loopback names on any port', async () => {
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, 'localhost', 'LOCALHOST:1234']) {
      const ui = await send(gl.url, 'GET', '/requests', host);
      expect(ui.status, host).toBe(200);
      expect(ui.type).toMatch(/^text\/html/);
      const api = await send(gl.url, 'POST', '/v1/chat/completions', host, chat);
      expect(api.status, host).toBe(200);
    }
    const log = gl.logs();
    expect(log).not.toMatch(/"level":50/);
  });
});

describe('server.allowed_hosts replaces the default', () => {
  let gl: GatelogProcess;
  beforeAll(async () => {
    gl = await startGatelog({ config: { server: { allowed_hosts: ['gatelog.test', '*.corp.test:4000'] } }, timeoutMs: 60_000 });
  }, 90_000);
  afterAll(async () => {
    await gl?.stop();
  });

  it('answers the configured names only', async () => {
    expect((await send(gl.url, 'GET', '/requests', 'gatelog.test:8080')).status).toBe(200);
    expect((await send(gl.url, 'GET', '/v1/models', 'ui.corp.test:4000')).status).toBe(200);
    expect((await send(gl.url, 'GET', '/v1/models', 'ui.corp.test:4001')).status).toBe(403);
    expect((await send(gl.url, 'GET', '/v1/models', 'corp.test:4000')).status).toBe(403);
    expect((await send(gl.url, 'GET', '/requests', 'localhost')).status).toBe(403);
  });
});
