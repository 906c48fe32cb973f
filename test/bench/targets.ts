// The systems compared by the benchmark, each started in its own child process and pinned
// to the target core: the bare passthrough floor, gatelog (the real embedded launcher) and
// Portkey's gateway. "direct" is the mock upstream itself.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { parseConfig } from '@gatelog/core';
import { freePort, spawnChild, type Child } from './children.ts';
import { blockTiming, type BlockTiming, type LoadTarget } from './load.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/**
 * The checkout whose gatelog (embedded and proxy service) is measured: this one, or another
 * (BENCH_GATELOG_ROOT, e.g. a `git worktree` of an earlier commit with its node_modules), so a
 * change can be compared with what it replaced in one sitting, against the same references.
 */
export const GATELOG_ROOT = process.env['BENCH_GATELOG_ROOT'] ?? ROOT;
const HERE = dirname(fileURLToPath(import.meta.url));
const NODE_FLAGS = ['--disable-warning=ExperimentalWarning'];
const AUTH = 'Bearer sk-bench-not-a-real-key';

export interface Running {
  target: LoadTarget;
  child: Child | null;
  /** Streaming is measured only where the target supports it on this machine. */
  sse: boolean;
  note?: string;
}

/**
 * Earlier turns of a conversation put before the question, about this many bytes in all
 * (BENCH_CONTEXT_BYTES; 0 by default): an agent's or a chat's long context, for comparing
 * what a call's request size costs each target. BENCH_CONTEXT_PII=1 puts an e-mail address
 * in the first turn: every call then has personal data for redaction to replace.
 */
function earlierTurns(bytes: number): { role: string; content: string }[] {
  const turns: { role: string; content: string }[] = [];
  const pii = process.env['BENCH_CONTEXT_PII'] === '1';
  for (let i = 0, n = 0; n < bytes; i++) {
    const content = `Turn ${i}: a "quoted" line of earlier context, with café and ✓ in it${pii && i === 0 ? ', from jane.doe@example.com' : ''}. `.repeat(20);
    turns.push({ role: i % 2 ? 'assistant' : 'user', content });
    n += content.length + 32;
  }
  return turns;
}

function chatBody(model: string): (stream: boolean) => Buffer {
  const messages = [
    { role: 'system', content: 'You are a helpful assistant.' },
    ...earlierTurns(Number(process.env['BENCH_CONTEXT_BYTES'] ?? 0)),
    { role: 'user', content: 'Say hello to the benchmark in one short sentence.' },
  ];
  const plain = Buffer.from(JSON.stringify({ model, messages, temperature: 0.2 }));
  const streamed = Buffer.from(JSON.stringify({ model, messages, temperature: 0.2, stream: true }));
  return (stream) => (stream ? streamed : plain);
}

export function openAiTargetFor(name: string, origin: string, model: string, extra: Record<string, string> = {}): LoadTarget {
  return {
    name,
    origin,
    path: '/v1/chat/completions',
    headers: { 'content-type': 'application/json', authorization: AUTH, ...extra },
    body: chatBody(model),
  };
}

/** The fast local mock OpenAI upstream every bench runs against; `ready` is its URL. */
export function startMockUpstream(cpus: string | null): Promise<Child> {
  return spawnChild({
    name: 'mock upstream',
    cmd: process.execPath,
    args: ['--disable-warning=ExperimentalWarning', join(ROOT, 'test', 'bench', 'mock-upstream.ts')],
    cpus,
    readyPattern: /"url":"(http:\/\/[^"]+)"/,
    timeoutMs: 15_000,
  });
}

export function direct(mockUrl: string): Running {
  return { target: openAiTargetFor('direct (mock upstream)', mockUrl, 'gpt-4o-mini'), child: null, sse: true };
}

export async function passthrough(mockUrl: string, cpus: string | null): Promise<Running> {
  const child = await spawnChild({
    name: 'passthrough',
    cmd: process.execPath,
    args: [...NODE_FLAGS, ...(process.env['BENCH_PASSTHROUGH_NODE_FLAGS']?.split(' ').filter(Boolean) ?? []), join(HERE, 'passthrough.ts'), mockUrl],
    cpus,
    readyPattern: /"url":"(http:\/\/[^"]+)"/,
    timeoutMs: 15_000,
  });
  return { target: openAiTargetFor('fastify + undici passthrough', child.ready, 'gpt-4o-mini'), child, sse: true };
}

export const GATELOG_ALIAS = 'bench';

export interface GatelogRunning extends Running {
  dataDir: string;
  config: object;
}

/** BENCH_GATELOG_CONFIG='{"bus":{"kind":"local","fsync_ms":0}}' overrides top-level sections, for investigations. */
export function gatelogConfig(mockUrl: string, overrides = process.env['BENCH_GATELOG_CONFIG']): object {
  const extra = overrides ? (JSON.parse(overrides) as Record<string, unknown>) : {};
  return {
    ...extra,
    server: { port: 0 },
    providers: { upstream: { kind: 'openai', base_url: `${mockUrl}/v1`, api_key: 'sk-bench-upstream-not-a-real-key' } },
    models: [{ name: GATELOG_ALIAS, deployments: [{ provider: 'upstream', model: 'gpt-4o-mini' }] }],
  };
}

/** gatelog exactly as `npm start` runs it, with a fresh data dir and logging on. */
export async function gatelog(
  mockUrl: string, cpus: string | null, config: object = gatelogConfig(mockUrl), name = 'gatelog (logging on)',
  o: { root?: string; nodeFlags?: string[] } = {},
): Promise<GatelogRunning> {
  const root = o.root ?? GATELOG_ROOT;
  const dataDir = mkdtempSync(join(tmpdir(), 'gatelog-bench-'));
  const configPath = join(dataDir, 'gatelog.yaml');
  writeFileSync(configPath, stringify(config));
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    // A developer's own gatelog settings or provider keys must not leak into the bench.
    if (!k.startsWith('GATELOG_') && !k.endsWith('_API_KEY')) env[k] = v;
  }
  const extraFlags = o.nodeFlags ?? process.env['BENCH_GATELOG_NODE_FLAGS']?.split(' ').filter(Boolean) ?? [];
  const child = await spawnChild({
    name: 'gatelog',
    cmd: process.execPath,
    args: [...NODE_FLAGS, ...extraFlags, join(root, 'src', 'cli.ts'), 'start', '--port', '0', '--data-dir', dataDir, '--config', configPath],
    cpus,
    cwd: root,
    env,
    readyPattern: /"msg":"gatelog listening"[^\n]*"url":"(http:\/\/[^"]+)"|"url":"(http:\/\/[^"]+)"[^\n]*"msg":"gatelog listening"/,
    timeoutMs: 60_000,
  });
  // The pattern has two alternatives; spawnChild returns group 1, which may be the whole match.
  const url = /http:\/\/[0-9.:[\]a-z]+/.exec(child.ready)?.[0] ?? child.ready;
  return { target: openAiTargetFor(name, url, GATELOG_ALIAS), child, sse: true, dataDir, config };
}

/** Portkey's gateway (the Node build of @portkey-ai/gateway), custom host = the mock. */
export async function portkey(mockUrl: string, cpus: string | null): Promise<Running> {
  const require = createRequire(join(ROOT, 'test', 'package.json'));
  const pkgDir = dirname(require.resolve('@portkey-ai/gateway/package.json'));
  const port = await freePort();
  const child = await spawnChild({
    name: 'portkey',
    cmd: process.execPath,
    args: [join(pkgDir, 'build', 'start-server.js'), `--port=${port}`, '--headless'],
    cpus,
    readyPattern: /Ready for connections/,
    timeoutMs: 30_000,
  });
  const target = openAiTargetFor('@portkey-ai/gateway', `http://127.0.0.1:${port}`, 'gpt-4o-mini', {
    'x-portkey-provider': 'openai',
    'x-portkey-custom-host': `${mockUrl}/v1`,
  });
  return { target, child, sse: false, note: 'Portkey SSE fails on these machines: compared on JSON only' };
}

/**
 * The one-connection blocks' framing for a target (load.ts BlockTiming): how long its own
 * background work may trail its calls — the distributed proxy's relay linger (bus.batch_ms),
 * the embedded gatelog's insert linger (ingest.batch_ms) — from its effective configuration.
 */
export function timingFor(...runs: Running[]): BlockTiming {
  let linger = 0;
  for (const run of runs) {
    const raw = (run as Partial<GatelogRunning>).config;
    if (!raw) continue;
    const c = parseConfig(raw, 'bench', process.env);
    linger = Math.max(linger, c.bus.kind === 'kafka' ? c.bus.batch_ms : c.ingest.batch_ms);
  }
  return blockTiming(linger);
}
