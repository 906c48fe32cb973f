// A fresh data dir for a test, with gatelog's schema already in its embedded store: the schema
// is made once per set of migrations (and chDB version) by a child process, kept under the OS
// temp dir, and copied into each fresh dir (~40 ms) instead of migrated there (~0.7-1 s a
// store). The copy is the real engine's own files, as `migrate` left them; a test that needs to
// watch migrations run starts from an empty dir of its own.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MIGRATIONS = join(ROOT, 'core', 'src', 'store', 'migrations');

function templateKey(): string {
  const h = createHash('sha256');
  for (const f of readdirSync(MIGRATIONS).sort()) h.update(f).update('\0').update(readFileSync(join(MIGRATIONS, f))).update('\0');
  const chdb = createRequire(join(ROOT, 'core', 'package.json')).resolve('chdb/package.json');
  h.update((JSON.parse(readFileSync(chdb, 'utf8')) as { version: string }).version);
  return h.digest('hex').slice(0, 16);
}

let template: string | undefined;

/** The migrated store's directory (made on first use, by whichever test process gets there first). */
function templateDir(): string {
  if (template) return template;
  const dir = join(tmpdir(), `gatelog-test-store-${templateKey()}`);
  if (!existsSync(join(dir, 'clickhouse'))) {
    const build = mkdtempSync(join(tmpdir(), 'gatelog-test-store-build-'));
    const r = spawnSync(process.execPath, ['--disable-warning=ExperimentalWarning', join(ROOT, 'test', 'support', 'store-template-build.ts'), build], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) {
      rmSync(build, { recursive: true, force: true });
      throw new Error(`could not make the test store template: ${r.stderr || r.error?.message || r.status}`);
    }
    try {
      // Atomic: another process may have finished first; its copy is as good.
      renameSync(build, dir);
    } catch {
      rmSync(build, { recursive: true, force: true });
      if (!existsSync(join(dir, 'clickhouse'))) throw new Error(`test store template ${dir} is missing its store`);
    }
  }
  template = dir;
  return dir;
}

/** A new temp data dir holding a migrated embedded store. */
export function seededDataDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cpSync(join(templateDir(), 'clickhouse'), join(dir, 'clickhouse'), { recursive: true });
  return dir;
}
