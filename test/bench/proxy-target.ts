// The distributed shape of gatelog for `pnpm bench`: the standalone proxy service
// (proxy/src/main.ts, what a deployment runs in front of the providers) forwarding, capturing
// each call and publishing its event through the on-disk spool to Kafka — here the Kafka
// broker fixture (TEST FIXTURE, a child of its own pinned with the load generator, as a real
// broker would run elsewhere). Ingest is not running: it is a separate service in that shape.
// The fixture runs under SCHED_IDLE: a real broker runs on machines of its own, so its work
// (checking, inflating and decoding each batch: ~3 ms for a 50-ms batch of a one-connection
// run) must not hold up the mock upstream or the load generator in the middle of a call —
// measured, on the load core it did: the mock's scheduling delay reached p99 1.7 ms, max 10 ms.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { spawnChild, type Child } from './children.ts';
import { GATELOG_ALIAS, GATELOG_ROOT, ROOT, gatelogConfig, openAiTargetFor, type GatelogRunning } from './targets.ts';

/** The Kafka broker fixture in a child process; `ready` is its broker address. */
export function startKafkaFixture(cpus: string | null): Promise<Child> {
  return spawnChild({
    name: 'kafka fixture',
    cmd: process.execPath,
    args: ['--disable-warning=ExperimentalWarning', join(ROOT, 'test', 'bench', 'kafka-fixture.ts')],
    cpus,
    readyPattern: /"kafka":"([^"]+)"/,
    timeoutMs: 20_000,
    idle: true,
  });
}

/** What `ab.ts` varies between two proxies; `pnpm bench` takes the defaults (this checkout, BENCH_* settings). */
export interface ProxyServiceOptions {
  /** Checkout whose proxy/src/main.ts runs (default: BENCH_GATELOG_ROOT or this one). */
  root?: string;
  /** Node flags (default: BENCH_GATELOG_NODE_FLAGS). */
  nodeFlags?: string[];
  /** Config sections overriding the bench's, as JSON (default: BENCH_GATELOG_CONFIG). */
  configOverrides?: string;
  /** Extra environment for the child. */
  env?: Record<string, string>;
  topic?: string;
  /** The child's name (its log file under BENCH_CHILD_LOG_DIR). */
  name?: string;
}

export async function proxyService(mockUrl: string, broker: string, cpus: string | null, o: ProxyServiceOptions = {}): Promise<GatelogRunning> {
  const root = o.root ?? GATELOG_ROOT;
  const name = o.name ?? 'gatelog proxy';
  const dataDir = mkdtempSync(join(tmpdir(), 'gatelog-bench-proxy-'));
  const configPath = join(dataDir, 'gatelog.yaml');
  // BENCH_GATELOG_CONFIG's `bus` settings (compression, batch_ms, …) apply here too; the broker is ours.
  const base = gatelogConfig(mockUrl, o.configOverrides ?? process.env['BENCH_GATELOG_CONFIG']) as { bus?: Record<string, unknown> };
  const config = { ...base, bus: { ...base.bus, kind: 'kafka', brokers: [broker], topic: o.topic ?? 'bench.proxy.events' } };
  writeFileSync(configPath, stringify(config));
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('GATELOG_') && !k.endsWith('_API_KEY')) env[k] = v;
  Object.assign(env, o.env);
  env['GATELOG_DATA_DIR'] = dataDir;
  const extraFlags = o.nodeFlags ?? process.env['BENCH_GATELOG_NODE_FLAGS']?.split(' ').filter(Boolean) ?? [];
  const child = await spawnChild({
    name,
    cmd: process.execPath,
    args: ['--disable-warning=ExperimentalWarning', ...extraFlags, join(root, 'proxy', 'src', 'main.ts'), '--config', configPath, '--port', '0'],
    cpus,
    cwd: root,
    env,
    readyPattern: /"msg":"gatelog proxy listening"[^\n]*|"url":"http[^\n]*"msg":"gatelog proxy listening"/,
    timeoutMs: 60_000,
  });
  const url = /http:\/\/[0-9.:[\]a-z]+/.exec(child.ready)?.[0];
  if (!url) throw new Error(`${name}: no URL in its ready line: ${child.ready}`);
  return { target: openAiTargetFor('gatelog proxy → Kafka (distributed)', url, GATELOG_ALIAS), child, sse: true, dataDir, config };
}
