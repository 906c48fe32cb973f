// `pnpm bench --abuse`: the noisy-neighbour benchmark. A steady tenant sends one small chat
// call every 50 ms through a real `gatelog start` process; its p50/p99 are measured alone,
// then while another key (or a signed-in person) runs each attack in a loop. The target is a
// p99 under attack ≤ 1.5× the p99 alone. Prints a markdown table (the "Noisy neighbours"
// section of BENCHMARKS.md is written by hand from it, with notes).
//   node test/bench/run.ts --abuse [--quick] [--duration S] [--only name,name]
// Heavy upstreams (a 150 MB stream, an unterminated 150 MB SSE line) run in processes of their
// own (test/abuse/flood-upstream.ts) so the timing process only times.
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { request, type ClientRequest } from 'node:http';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../support/gatelog-process.ts';
import { sampleRss, sleep, startAbuseGatelog, startUpstream, steadyProbe, wellBehaved, type AbuseGatelog, type ProbeResult } from '../abuse/harness.ts';
import { startFloodUpstream, type FloodUpstream } from '../abuse/flood-upstream.ts';
import { warmUp } from '../abuse/warm-up.ts';

const TARGET_RATIO = 1.5;
const SEED_ROWS = 30_000;

const say = (msg: string): void => {
  process.stderr.write(`[bench:abuse] ${msg}\n`);
};

interface Ctx {
  gl: AbuseGatelog;
  /** A key allowed every model, no limits. */
  attacker: string;
  /** A key allowed only `fast`. */
  listed: string;
  /** UI session cookie (master key sign-in). */
  cookie: string;
  signal: AbortSignal;
}

interface Attack {
  name: string;
  what: string;
  /** One attack request; the bench repeats it until the phase ends. Returns the status. */
  once?: (c: Ctx) => Promise<number>;
  /** Or: hold something open for the whole phase (started, then released at the end). */
  hold?: (c: Ctx) => Promise<() => void>;
}

async function post(c: Ctx, path: string, body: string, headers: Record<string, string> = {}): Promise<number> {
  const res = await fetch(`${c.gl.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${c.attacker}`, ...headers }, body, signal: c.signal });
  await res.arrayBuffer();
  return res.status;
}

const WORD = 'a'.repeat(250_000);
const HUGE_MODEL = `fake/${'m'.repeat(1024 * 1024)}`;
const DEPTH = 100_000;
const DEEP = `{"model":"fast","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"metadata":${'['.repeat(DEPTH)}${']'.repeat(DEPTH)}}`;

const ATTACKS: Attack[] = [
  {
    name: 'count_tokens',
    what: 'POST /v1/messages/count_tokens, one 250 KB word, OpenAI-kind deployment',
    once: (c) => post(c, '/v1/messages/count_tokens', JSON.stringify({ model: 'fast', messages: [{ role: 'user', content: WORD }] }), { 'anthropic-version': '2023-06-01' }),
  },
  {
    name: 'huge-stream',
    what: '~150 MB chat stream without usage (2,400 × 64 KB events)',
    once: (c) => post(c, '/v1/chat/completions', JSON.stringify({ model: 'flood-stream', stream: true, messages: [{ role: 'user', content: 'go' }] })),
  },
  {
    name: 'unterminated-sse',
    what: 'one `data:` line of 150 MB that never ends',
    once: (c) => post(c, '/v1/chat/completions', JSON.stringify({ model: 'flood-line', stream: true, messages: [{ role: 'user', content: 'go' }] })),
  },
  {
    name: 'refused-models',
    what: '`model: "fake/<1 MB>"` from a key allowed only `fast` (403)',
    once: (c) => post(c, '/v1/chat/completions', JSON.stringify({ model: HUGE_MODEL, messages: [{ role: 'user', content: 'hi' }] }), { authorization: `Bearer ${c.listed}` }),
  },
  {
    name: 'slow-export',
    what: `JSONL export of ${SEED_ROWS.toLocaleString('en-US')} calls, read once then paused`,
    hold: (c) =>
      new Promise((resolve, reject) => {
        let req: ClientRequest | undefined = undefined;
        req = request(`${c.gl.url}/export?format=jsonl`, { headers: { cookie: c.cookie } }, (res) => {
          res.once('data', () => {
            res.pause();
            resolve(() => req?.destroy());
          });
          res.on('error', () => undefined);
        });
        req.on('error', reject);
        req.end();
      }),
  },
  {
    name: 'spend-range',
    what: 'GET /spend?from=1900-01-01&to=2299-12-31 (signed in)',
    once: async (c) => {
      const res = await fetch(`${c.gl.url}/spend?from=1900-01-01&to=2299-12-31`, { headers: { cookie: c.cookie }, redirect: 'manual', signal: c.signal });
      await res.arrayBuffer();
      return res.status;
    },
  },
  {
    name: 'deep-json',
    what: `${DEPTH.toLocaleString('en-US')}-deep JSON on a translated call (/v1/messages → OpenAI kind)`,
    once: (c) => post(c, '/v1/messages', DEEP, { 'anthropic-version': '2023-06-01' }),
  },
];

interface Row {
  name: string;
  what: string;
  steady: ProbeResult;
  attacks: number;
  statuses: Map<string, number>;
  rssMaxMb: number;
  load: number;
}

async function phase(gl: AbuseGatelog, secret: string, ms: number, attack: Attack | null, ctxBase: Omit<Ctx, 'signal'>): Promise<Row> {
  const rss = sampleRss(gl.proc.pid!);
  const ac = new AbortController();
  const statuses = new Map<string, number>();
  let attacks = 0;
  const count = (s: string): void => {
    statuses.set(s, (statuses.get(s) ?? 0) + 1);
  };
  const probe = steadyProbe({ url: gl.url, secret, model: 'fast', intervalMs: 50, timeoutMs: 30_000 });
  const ctx: Ctx = { ...ctxBase, signal: ac.signal };
  let release: (() => void) | undefined;
  let loop: Promise<void> = Promise.resolve();
  if (attack?.once) {
    const once = attack.once;
    loop = (async () => {
      while (!ac.signal.aborted) {
        try {
          count(String(await once(ctx)));
          attacks++;
        } catch (e) {
          if (!ac.signal.aborted) count((e as Error).name);
        }
      }
    })();
  } else if (attack?.hold) {
    release = await attack.hold(ctx).catch((e: unknown) => {
      count((e as Error).name);
      return undefined;
    });
    attacks = release ? 1 : 0;
  }
  await sleep(ms);
  ac.abort();
  release?.();
  const steady = await probe.stop();
  await loop;
  return { name: attack?.name ?? 'alone', what: attack?.what ?? 'no attack', steady, attacks, statuses, rssMaxMb: rss.stop().maxMb, load: loadavg()[0] ?? 0 };
}

function render(rows: Row[], alone: Row, note: string): string {
  const f = (ms: number): string => (Number.isFinite(ms) ? ms.toFixed(1) : '–');
  const lines = [
    `| attack | steady ok / failed | p50 ms | p99 ms | p99 ÷ alone | ≤ ${TARGET_RATIO}× | attack requests (statuses) | gatelog RSS max MB | load (1 min) |`,
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of [alone, ...rows]) {
    const ratio = r.steady.p99 / alone.steady.p99;
    const st = [...r.statuses.entries()].map(([s, n]) => `${n}× ${s}`).join(', ');
    const ok = r === alone ? '' : r.steady.failed === 0 && ratio <= TARGET_RATIO ? 'yes' : 'no';
    lines.push(`| ${r.name} — ${r.what} | ${r.steady.ok} / ${r.steady.failed} | ${f(r.steady.p50)} | ${f(r.steady.p99)} | ${r === alone ? '1.00' : ratio.toFixed(2)} | ${ok} | ${r === alone ? '–' : `${r.attacks}${st ? ` (${st})` : ''}`} | ${r.rssMaxMb.toFixed(0)} | ${r.load.toFixed(1)} |`);
  }
  return `${lines.join('\n')}\n\n${note}\n`;
}

export async function runAbuseBench(o: { quick: boolean; durationS?: number | undefined; only?: string[] | undefined }): Promise<string> {
  const ms = (o.durationS ?? (o.quick ? 4 : 10)) * 1000;
  const selected = o.only ? ATTACKS.filter((a) => o.only!.includes(a.name)) : ATTACKS;
  say(`seeding ${SEED_ROWS} calls`);
  const dataDir = mkdtempSync(join(tmpdir(), 'gatelog-bench-abuse-'));
  await promisify(execFile)(process.execPath, ['--disable-warning=ExperimentalWarning', join(ROOT, 'test/abuse/seed-calls.ts'), dataDir, String(SEED_ROWS), '2000'], { cwd: ROOT });
  const up = await startUpstream(wellBehaved());
  const floods: FloodUpstream[] = [await startFloodUpstream(['stream', 2400, 64 * 1024]), await startFloodUpstream(['line', 150])];
  let gl: AbuseGatelog | undefined;
  const cleanup = (): void => {
    gl?.proc.kill('SIGKILL');
    for (const f of floods) void f.close();
  };
  process.on('exit', cleanup);
  try {
    gl = await startAbuseGatelog({
      dataDir,
      config: {
        providers: {
          up: { kind: 'openai', base_url: up.baseUrl, api_key: 'sk-bench-up' },
          fake: { kind: 'openai', base_url: up.baseUrl, api_key: 'sk-bench-fake' },
          stream: { kind: 'openai', base_url: floods[0]!.baseUrl, api_key: 'sk-bench-flood' },
          line: { kind: 'openai', base_url: floods[1]!.baseUrl, api_key: 'sk-bench-line' },
        },
        models: [
          { name: 'fast', deployments: [{ provider: 'up', model: 'gpt-4o-mini' }] },
          { name: 'flood-stream', deployments: [{ provider: 'stream', model: 'gpt-flood' }] },
          { name: 'flood-line', deployments: [{ provider: 'line', model: 'gpt-flood' }] },
        ],
        router: { retries: 0 },
      },
    });
    say(`gatelog at ${gl.url} (pid ${gl.proc.pid})`);
    const steady = await gl.createKey({ name: 'steady-tenant', models: ['fast'] });
    const attacker = await gl.createKey({ name: 'noisy-neighbour' });
    const listed = await gl.createKey({ name: 'noisy-listed', models: ['fast'] });
    const login = await fetch(`${gl.url}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: gl.url },
      body: new URLSearchParams({ key: gl.master, next: '/requests' }).toString(),
    });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    await warmUp(gl.url, steady.secret, { ms: 3000 });
    const base = { gl, attacker: attacker.secret, listed: listed.secret, cookie };
    say(`steady tenant alone for ${ms / 1000} s`);
    const alone = await phase(gl, steady.secret, ms, null, base);
    const rows: Row[] = [];
    for (const a of selected) {
      say(`${a.name}: ${a.what}`);
      rows.push(await phase(gl, steady.secret, ms, a, base));
      if (gl.proc.exitCode !== null) throw new Error(`gatelog exited during ${a.name}:\n${gl.logs().slice(-4000)}`);
      await sleep(2000); // let the previous attack's leftovers drain before the next phase
    }
    const note =
      `${new Date().toISOString().slice(0, 10)}, ${availableParallelism()} cores shared with other work; steady tenant: one non-streamed chat call every 50 ms, ` +
      `${ms / 1000} s per phase, each attack looped by one client (one at a time) for the whole phase.`;
    const out = render(rows, alone, note);
    process.stdout.write(`\n${out}`);
    return out;
  } finally {
    await gl?.stop().catch(() => undefined);
    cleanup();
    await up.close();
  }
}
