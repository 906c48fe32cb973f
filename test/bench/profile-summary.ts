// Where does gatelog's time go? Summarizes a V8 .cpuprofile (from
// BENCH_GATELOG_NODE_FLAGS="--cpu-prof --cpu-prof-dir=DIR" pnpm bench) into the top
// functions by self and by inclusive time, optionally as µs per call.
//   node test/bench/profile-summary.ts <file.cpuprofile> [calls] [top] [--window 5-10] [--callers randomFillSync]
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface Line {
  name: string;
  selfUs: number;
  totalUs: number;
}

function label(n: ProfileNode): string {
  const f = n.callFrame;
  const where = f.url.replace(/^file:\/\//, '').replace(/.*\/node_modules\/(\.pnpm\/[^/]+\/node_modules\/)?/, '').replace(/^\/work\/main\//, '');
  return `${f.functionName || '(anonymous)'} ${where ? `${where}:${f.lineNumber + 1}` : ''}`.trim();
}

export interface Window {
  fromS: number;
  toS: number;
}

/** Busy (non-idle) share of each second of the profile, to find the phase to look at. */
export function timeline(p: CpuProfile): string {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const busy: number[] = [];
  const all: number[] = [];
  let t = 0;
  p.samples.forEach((id, i) => {
    t += p.timeDeltas[i] ?? 0;
    const sec = Math.floor(t / 1e6);
    all[sec] = (all[sec] ?? 0) + (p.timeDeltas[i] ?? 0);
    if (byId.get(id)?.callFrame.functionName !== '(idle)') busy[sec] = (busy[sec] ?? 0) + (p.timeDeltas[i] ?? 0);
  });
  return all.map((a, s) => `${s}s:${Math.round(((busy[s] ?? 0) / (a || 1)) * 100)}%`).join(' ');
}

/** Callers (first frame outside node internals) of samples whose leaf matches `leaf`. */
export function callers(p: CpuProfile, leaf: string): Map<string, number> {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const out = new Map<string, number>();
  p.samples.forEach((id, i) => {
    const node = byId.get(id);
    if (!node || !label(node).startsWith(leaf)) return;
    let cur = parent.get(id);
    while (cur !== undefined && /node:|^\(/.test(byId.get(cur)?.callFrame.url || '(')) cur = parent.get(cur);
    const name = cur === undefined ? '(none)' : label(byId.get(cur)!);
    out.set(name, (out.get(name) ?? 0) + (p.timeDeltas[i] ?? 0));
  });
  return out;
}

export function summarize(p: CpuProfile, w?: Window): { totalUs: number; lines: Line[] } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let totalUs = 0;
  let t = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    t += dt;
    if (w && (t < w.fromS * 1e6 || t > w.toS * 1e6)) return;
    totalUs += dt;
    const node = byId.get(id);
    if (!node) return;
    const name = label(node);
    self.set(name, (self.get(name) ?? 0) + dt);
    // Inclusive time: count each distinct frame once per sample (recursion would double it).
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur);
      if (!n) break;
      const l = label(n);
      if (seen.has(l)) continue;
      seen.add(l);
      total.set(l, (total.get(l) ?? 0) + dt);
    }
  });
  const lines = [...total.keys()].map((name) => ({ name, selfUs: self.get(name) ?? 0, totalUs: total.get(name) ?? 0 }));
  return { totalUs, lines };
}

function print(file: string, calls: number, top: number, w: Window | undefined, leaf: string | undefined): void {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  process.stdout.write(`busy share per second: ${timeline(profile)}\n\n`);
  if (leaf) {
    for (const [name, us] of [...callers(profile, leaf)].sort((a, b) => b[1] - a[1]).slice(0, 15)) process.stdout.write(`${(us / 1000).toFixed(0).padStart(7)} ms  ${leaf} <- ${name}\n`);
    return;
  }
  const { totalUs, lines } = summarize(profile, w);
  const per = (us: number): string => (calls > 0 ? `${(us / calls).toFixed(1)} µs/call` : '');
  const fmt = (l: Line, v: number): string => `${(v / 1000).toFixed(0).padStart(7)} ms ${((v / totalUs) * 100).toFixed(1).padStart(5)}% ${per(v).padStart(14)}  ${l.name}`;
  process.stdout.write(`profile ${file}: ${(totalUs / 1e6).toFixed(1)} s sampled${calls ? `, ${calls} calls, ${per(totalUs)} overall` : ''}\n\n`);
  process.stdout.write('top by self time\n');
  for (const l of [...lines].sort((a, b) => b.selfUs - a.selfUs).slice(0, top)) process.stdout.write(`${fmt(l, l.selfUs)}\n`);
  process.stdout.write('\ntop by inclusive time\n');
  for (const l of [...lines].sort((a, b) => b.totalUs - a.totalUs).slice(0, top)) process.stdout.write(`${fmt(l, l.totalUs)}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { window: { type: 'string' }, callers: { type: 'string' } } });
  const [file, calls, top] = positionals;
  if (!file) throw new Error('usage: profile-summary.ts <file.cpuprofile> [calls] [top] [--window FROM-TO seconds] [--callers LEAF]');
  const [from, to] = (values.window ?? '').split('-').map(Number);
  const w = from !== undefined && to !== undefined && !Number.isNaN(from) && !Number.isNaN(to) ? { fromS: from, toS: to } : undefined;
  print(file, Number(calls ?? 0), Number(top ?? 40), w, values.callers);
}
