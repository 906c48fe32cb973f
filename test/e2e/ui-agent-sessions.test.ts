// Sessions without setup, end to end: the real `@anthropic-ai/sdk` sending what Claude Code
// sends (x-claude-code-session-id, metadata.user_id in its JSON and legacy forms, its
// User-Agent) and the real `openai` SDK calling the Responses API as Codex does (originator,
// session-id, or the older session_id + conversation_id), through a real `gatelog start`; then,
// in a real browser, the Sessions page lists them grouped by session with the agent named,
// newest first, team-scoped (a person of team red sees only red's sessions), filtered by agent.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic.ts';
import { ROOT, startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';
import { startTogether } from '../support/start-together.ts';

const run = promisify(execFile);
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const MASTER = `mk-${randomUUID()}`;
const PASSWORD = 'correct horse battery staple';
const CLAUDE_UA = 'claude-cli/2.1.90 (external, cli)';
const CODEX_UA = 'codex_cli_rs/0.50.0 (Debian 13.0.0; x86_64) xterm-256color';

// Sessions, in the order their last call is sent (so newest first is the reverse).
const CC_NEW = randomUUID(); // header + JSON metadata
const CC_OLD = randomUUID(); // legacy metadata.user_id only
const CODEX = randomUUID();
const EXPLICIT = `mine-${randomUUID().slice(0, 8)}`;

let browser: Browser;
let gl: GatelogProcess;
let anthropicUp: FakeAnthropic;
let responsesUp: Server;
const lastIds: string[] = [];

/** A Responses API upstream: the JSON answer of one completed response. */
async function startResponsesUpstream(): Promise<Server> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({
        id: `resp_${randomUUID().slice(0, 8)}`, object: 'response', created_at: 1_700_000_000, status: 'completed', model: 'gpt-5-codex',
        output: [{ type: 'message', id: 'msg_1', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'patched', annotations: [] }] }],
        usage: { input_tokens: 40, input_tokens_details: { cached_tokens: 0 }, output_tokens: 4, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 44 },
      }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

async function cli(...args: string[]): Promise<string> {
  const r = await run(process.execPath, ['--disable-warning=ExperimentalWarning', join(ROOT, 'src', 'cli.ts'), ...args, '--url', gl.url], { env: { ...process.env, GATELOG_MASTER_KEY: MASTER } });
  return r.stdout;
}

async function newKey(name: string, team: string): Promise<string> {
  const res = await fetch(`${gl.url}/admin/keys`, { method: 'POST', headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' }, body: JSON.stringify({ name, team }) });
  expect(res.status).toBe(201);
  return ((await res.json()) as { secret: string }).secret;
}

async function invite(role: string, team?: string): Promise<string> {
  const out = await cli('users', 'create', '--email', `${role}-${randomUUID().slice(0, 6)}@example.com`, '--role', role, ...(team ? ['--team', team] : []));
  const link = /(http:\/\/\S+\/login\/invite\?token=gli-[A-Za-z0-9_-]{43})/.exec(out)?.[1];
  expect(link, out).toBeDefined();
  return link!;
}

beforeAll(async () => {
  anthropicUp = await startFakeAnthropic();
  responsesUp = await startResponsesUpstream();
  const respBase = `http://127.0.0.1:${(responsesUp.address() as AddressInfo).port}/v1`;
  [browser, gl] = await startTogether(
    [chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] }), (b) => b.close()],
    [startGatelog({
      env: { GATELOG_MASTER_KEY: MASTER },
      config: {
        ingest: { batch_ms: 50 },
        providers: { ant: { kind: 'anthropic', base_url: anthropicUp.url, api_key: 'sk-ant-upstream' }, oai: { kind: 'openai', base_url: respBase, api_key: 'sk-oai-upstream' } },
        models: [
          { name: 'claude-sonnet', deployments: [{ provider: 'ant', model: 'claude-sonnet-4-5-20250929' }] },
          { name: 'gpt-5-codex', deployments: [{ provider: 'oai', model: 'gpt-5-codex' }] },
        ],
      },
      timeoutMs: 90_000,
    }), (g) => g.stop()],
  );
  const red = await newKey('claude-code-laptop', 'red');
  const blue = await newKey('codex-ci', 'blue');

  // Claude Code as it is today: session header, JSON metadata, its User-Agent; one call streamed.
  const claude = new Anthropic({ baseURL: gl.url, apiKey: red, maxRetries: 0, defaultHeaders: { 'user-agent': CLAUDE_UA, 'x-app': 'cli', 'x-claude-code-session-id': CC_NEW } });
  const metadata = { user_id: JSON.stringify({ device_id: 'dev-1', account_uuid: '', session_id: CC_NEW }) };
  await claude.messages.create({ model: 'claude-sonnet', max_tokens: 64, metadata, messages: [{ role: 'user', content: 'read the repo' }] });
  const { data: stream, response: streamed } = await claude.messages.stream({ model: 'claude-sonnet', max_tokens: 64, metadata, messages: [{ role: 'user', content: 'now fix the test' }] }).withResponse();
  await stream.finalMessage();
  lastIds[0] = streamed.headers.get('x-gatelog-request-id')!;

  // An older Claude Code: the session only in metadata.user_id's legacy form.
  const oldClaude = new Anthropic({ baseURL: gl.url, apiKey: red, maxRetries: 0, defaultHeaders: { 'user-agent': 'claude-cli/1.0.80 (external, cli)' } });
  await oldClaude.messages.create({ model: 'claude-sonnet', max_tokens: 64, metadata: { user_id: `user_${'ab'.repeat(32)}_account__session_${CC_OLD}` }, messages: [{ role: 'user', content: 'hello' }] });

  // Codex on the Responses API: current headers, then the older pair, same session.
  const codex = new OpenAI({ baseURL: `${gl.url}/v1`, apiKey: blue, maxRetries: 0, defaultHeaders: { 'user-agent': CODEX_UA, originator: 'codex_cli_rs' } });
  await codex.responses.create({ model: 'gpt-5-codex', input: 'list files' }, { headers: { 'session-id': CODEX } });
  await codex.responses.create({ model: 'gpt-5-codex', input: 'apply patch' }, { headers: { session_id: CODEX, conversation_id: CODEX } });

  // An explicit gatelog session wins over Claude Code's own; a call with no session is in no session.
  await claude.messages.create({ model: 'claude-sonnet', max_tokens: 16, metadata, messages: [{ role: 'user', content: 'tagged' }] }, { headers: { 'x-gatelog-session-id': EXPLICIT } });
  const plain = new OpenAI({ baseURL: `${gl.url}/v1`, apiKey: blue, maxRetries: 0 });
  const { response } = await plain.responses.create({ model: 'gpt-5-codex', input: 'no session' }).withResponse();
  const lastId = response.headers.get('x-gatelog-request-id')!;
  for (let i = 0; i < 300; i++) {
    const r = await fetch(`${gl.url}/admin/calls/${lastId}`, { headers: { authorization: `Bearer ${MASTER}` } });
    if (r.status === 200) break;
    await new Promise((res) => setTimeout(res, 100));
  }
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await gl?.stop();
  await anthropicUp?.close();
  await new Promise((r) => responsesUp?.close(r));
});

async function signIn(link: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  page.setDefaultTimeout(15_000);
  await page.goto(link);
  await page.fill('#password', PASSWORD);
  await page.fill('#confirm', PASSWORD);
  await Promise.all([page.waitForURL((u) => u.pathname === '/requests'), page.click('button[type=submit]')]);
  return page;
}

interface Row { session: string; agent: string; calls: string; models: string }

async function rows(page: Page): Promise<Row[]> {
  return page.getByTestId('session-row').evaluateAll((trs) => trs.map((tr) => ({
    session: tr.getAttribute('data-session') ?? '',
    agent: tr.querySelector('[data-testid=cell-agent]')?.textContent ?? '',
    calls: tr.querySelector('[data-testid=cell-calls]')?.textContent ?? '',
    models: tr.querySelector('[data-testid=cell-models]')?.textContent ?? '',
  })));
}

describe('Sessions page', () => {
  it('lists agent sessions grouped, newest first, with the agent; the nav links to it; a session opens', { timeout: 150_000 }, async () => {
    const page = await signIn(await invite('owner'));
    try {
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sessions' }).click();
      await page.waitForURL((u) => u.pathname === '/sessions');
      expect(await rows(page)).toEqual([
        { session: EXPLICIT, agent: 'Claude Code', calls: '1', models: 'claude-sonnet' },
        { session: CODEX, agent: 'Codex', calls: '2', models: 'gpt-5-codex' },
        { session: CC_OLD, agent: 'Claude Code', calls: '1', models: 'claude-sonnet' },
        { session: CC_NEW, agent: 'Claude Code', calls: '2', models: 'claude-sonnet' },
      ]);
      const html = await page.content();
      expect(html).toContain('codex-ci');
      expect(html).toContain('claude-code-laptop');

      await page.goto(`${gl.url}/sessions?range=24h&agent=codex`);
      expect((await rows(page)).map((r) => r.session)).toEqual([CODEX]);

      await page.goto(`${gl.url}/sessions`);
      await page.getByRole('link', { name: CC_NEW }).click();
      await page.waitForURL((u) => u.pathname === `/sessions/${CC_NEW}`);
      expect(await page.content()).toContain(lastIds[0]);
    } finally {
      await page.context().close();
    }
  });

  it('a person of team red sees only red\'s sessions; bad parameters are 400s', { timeout: 150_000 }, async () => {
    const page = await signIn(await invite('analyst', 'red'));
    try {
      await page.goto(`${gl.url}/sessions?range=7d`);
      expect((await rows(page)).map((r) => r.session)).toEqual([EXPLICIT, CC_OLD, CC_NEW]);
      expect((await page.goto(`${gl.url}/sessions?agent=robot`))?.status()).toBe(400);
      expect((await page.goto(`${gl.url}/sessions?before=nonsense`))?.status()).toBe(400);
      expect((await page.goto(`${gl.url}/sessions?from=2026-01-02&to=2026-01-01`))?.status()).toBe(400);
    } finally {
      await page.context().close();
    }
  });
});
