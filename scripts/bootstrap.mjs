#!/usr/bin/env node
// Bootstrap for the README's two commands. Runs on any Node >= 18 with npm, makes sure the
// project's toolchain is present (Node 24 from the npm registry when the system Node is older,
// pnpm, dependencies, the UI build), then hands over to the real command under Node 24.
// Every step is idempotent and keyed by a content stamp, so a second run costs milliseconds.
import { spawnSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const RUNTIME = join(ROOT, '.runtime');
const NODE_MAJOR = 24;

function log(msg) {
  process.stderr.write(`[gatelog setup] ${msg}\n`);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: ROOT, ...opts });
  if (r.error) throw r.error;
  if (r.status !== 0) {
    log(`command failed (${r.status ?? r.signal}): ${cmd} ${args.join(' ')}`);
    process.exit(r.status ?? 1);
  }
}

function versionOk(v) {
  return Number(v.split('.')[0]) >= NODE_MAJOR;
}

/** Path of a Node >= 24 binary: the current one if new enough, else one fetched from npm. */
export function ensureNode() {
  if (versionOk(process.versions.node)) return process.execPath;
  const pkg = `node-${process.platform}-${process.arch}`;
  const bin = join(RUNTIME, 'node', 'node_modules', pkg, 'bin', 'node');
  if (existsSync(bin)) {
    const v = spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout.trim().replace(/^v/, '');
    if (versionOk(v)) return bin;
  }
  log(`system Node ${process.version} is older than ${NODE_MAJOR}; fetching ${pkg}@${NODE_MAJOR} from the npm registry`);
  mkdirSync(join(RUNTIME, 'node'), { recursive: true });
  writeFileSync(join(RUNTIME, 'node', 'package.json'), '{"private":true}\n');
  run('npm', ['install', '--prefix', join(RUNTIME, 'node'), '--no-audit', '--no-fund', '--no-save', `${pkg}@${NODE_MAJOR}`]);
  return bin;
}

/** Path of pnpm's entry script, installed into .runtime when missing. */
export function ensurePnpm() {
  const entry = join(RUNTIME, 'pnpm', 'node_modules', 'pnpm', 'bin', 'pnpm.cjs');
  if (existsSync(entry)) return entry;
  log('installing pnpm@10 into .runtime');
  mkdirSync(join(RUNTIME, 'pnpm'), { recursive: true });
  writeFileSync(join(RUNTIME, 'pnpm', 'package.json'), '{"private":true}\n');
  run('npm', ['install', '--prefix', join(RUNTIME, 'pnpm'), '--no-audit', '--no-fund', '--no-save', 'pnpm@10']);
  return entry;
}

function hashFiles(paths) {
  const h = createHash('sha256');
  for (const p of paths) {
    if (!existsSync(p)) continue;
    const st = statSync(p);
    if (st.isDirectory()) {
      const entries = readdirSync(p).filter((e) => e !== 'node_modules' && !e.startsWith('.')).sort();
      h.update(hashFiles(entries.map((e) => join(p, e))));
    } else {
      h.update(relative(ROOT, p));
      h.update(readFileSync(p));
    }
  }
  return h.digest('hex');
}

function stamped(stampFile, inputs, action) {
  const want = hashFiles(inputs);
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === want) return;
  action();
  mkdirSync(dirname(stampFile), { recursive: true });
  writeFileSync(stampFile, want);
}

export function toolchain() {
  const node = ensureNode();
  const pnpm = ensurePnpm();
  // Scripts in package.json call `pnpm`; a shim keeps it on PATH without a global install.
  const binDir = join(RUNTIME, 'bin');
  const shim = join(binDir, 'pnpm');
  const shimText = `#!/bin/sh\nexec "${node}" "${pnpm}" "$@"\n`;
  if (!existsSync(shim) || readFileSync(shim, 'utf8') !== shimText) {
    mkdirSync(binDir, { recursive: true });
    writeFileSync(shim, shimText, { mode: 0o755 });
  }
  const env = {
    ...process.env,
    PATH: `${binDir}:${dirname(node)}:${process.env.PATH ?? ''}`,
    npm_config_update_notifier: 'false',
    // V8's code cache for every module Node loads (gatelog's own TypeScript included): a
    // process starts on ~0.6 s less CPU once the cache is warm. Kept under .runtime/.
    NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE ?? join(RUNTIME, 'compile-cache'),
  };
  const pnpmRun = (args, opts = {}) => run(node, [pnpm, ...args], { env, ...opts });
  const manifests = ['package.json', 'pnpm-lock.yaml', 'pnpm-workspace.yaml', 'core', 'proxy', 'ingest', 'ui', 'test']
    .map((p) => join(ROOT, p))
    .flatMap((p) => (p.endsWith('.json') || p.endsWith('.yaml') ? [p] : [join(p, 'package.json')]));
  stamped(join(ROOT, 'node_modules', '.gatelog-deps'), manifests, () => {
    log('installing dependencies');
    const frozen = existsSync(join(ROOT, 'pnpm-lock.yaml')) && process.env.CI ? ['--frozen-lockfile'] : [];
    pnpmRun(['install', ...frozen, '--config.confirmModulesPurge=false']);
  });
  const uiInputs = ['src', 'static', 'svelte.config.js', 'vite.config.ts', 'package.json', 'tsconfig.json'].map((p) => join(ROOT, 'ui', p));
  uiInputs.push(join(ROOT, 'core', 'src'));
  stamped(join(ROOT, 'ui', 'build', '.gatelog-build'), uiInputs, () => {
    log('building the UI');
    pnpmRun(['--filter', '@gatelog/ui', 'run', 'build']);
  });
  return { node, pnpm, env, pnpmRun };
}

/** Debian chromium for the browser tests; installed only where missing and we are root. */
function ensureChromium() {
  if (existsSync('/usr/bin/chromium') || process.env.CHROMIUM_PATH) return;
  if (typeof process.getuid === 'function' && process.getuid() === 0) {
    log('installing Debian chromium for the browser tests');
    run('apt-get', ['update', '-qq']);
    run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'chromium'], {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  } else {
    log('chromium is missing and we are not root: browser tests will fail (apt-get install chromium)');
  }
}

/** Debian redis-server for the shared-state (multi-proxy) tests; only where missing and we are root. */
function ensureRedis() {
  if (existsSync('/usr/bin/redis-server') || process.env.REDIS_SERVER_PATH) return;
  if (typeof process.getuid === 'function' && process.getuid() === 0) {
    log('installing Debian redis-server for the shared-state tests');
    run('apt-get', ['update', '-qq']);
    run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'redis-server'], {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  } else {
    log('redis-server is missing and we are not root: shared-state tests will fail (apt-get install redis-server)');
  }
}

/** One plain closing line that any CI log reader understands. */
function summarize(reportPath) {
  try {
    const r = JSON.parse(readFileSync(reportPath, 'utf8'));
    const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
    let flaky = 0;
    try {
      flaky = JSON.parse(readFileSync(join(dirname(reportPath), 'flaky.json'), 'utf8')).length;
    } catch {
      // no retry reporter ran
    }
    process.stdout.write(`\ntests: ${r.numPassedTests} passed (${flaky} only on a retry), ${r.numFailedTests} failed, ${skipped} skipped\n`);
  } catch {
    process.stdout.write('\ntests: no report was written\n');
  }
}

function exec(cmd, args, env) {
  const child = spawn(cmd, args, { stdio: 'inherit', cwd: process.cwd(), env });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
}

function main() {
  const [mode = 'cli', ...args] = process.argv.slice(2);
  const { node, pnpm, env, pnpmRun } = toolchain();
  const nodeFlags = ['--disable-warning=ExperimentalWarning'];
  switch (mode) {
    case 'setup':
      return;
    case 'start':
      return exec(node, [...nodeFlags, join(ROOT, 'src', 'cli.ts'), 'start', ...args], env);
    case 'cli':
      return exec(node, [...nodeFlags, join(ROOT, 'src', 'cli.ts'), ...args], env);
    case 'bench':
      return exec(node, [...nodeFlags, join(ROOT, 'test', 'bench', 'run.ts'), ...args], env);
    case 'test': {
      ensureChromium();
      ensureRedis();
      pnpmRun(['run', 'typecheck']);
      pnpmRun(['run', 'lint']);
      const report = join(ROOT, 'test-results', 'vitest.json');
      const r = spawnSync(node, [pnpm, 'exec', 'vitest', 'run', '--reporter=default', '--reporter=json', '--reporter=./test/support/flaky-reporter.ts', `--outputFile.json=${report}`, ...args], {
        stdio: 'inherit',
        cwd: ROOT,
        env,
      });
      summarize(report);
      process.exit(r.status ?? 1);
    }
    default:
      log(`unknown mode ${mode}`);
      process.exit(2);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
export { main };
