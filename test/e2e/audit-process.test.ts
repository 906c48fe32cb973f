// A real `gatelog start` process: its audited actions form one chain whose head it writes to
// the service log at shutdown; `gatelog audit verify --data-dir --log` (a separate process, on
// the stopped gatelog's store) passes; a tail cut afterwards in ClickHouse is valid as a chain
// but shows against the logged head.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HEAD_LOG_MSG, headsFromLog, openStore, verifyAudit, type Store } from '@gatelog/core';
import { ROOT, startGatelog, type GatelogProcess } from '../support/gatelog-process.ts';

const MASTER = 'master-key-for-audit-process-test';
let gl: GatelogProcess | undefined;
let store: Store | undefined;

function cli(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--disable-warning=ExperimentalWarning', join(ROOT, 'src', 'cli.ts'), ...args], { cwd: ROOT, env: { PATH: process.env['PATH'] ?? '' }, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ stdout, stderr, code: err ? ((err as { code?: number }).code ?? 1) : 0 });
    });
  });
}

afterAll(async () => {
  await gl?.stop();
  await store?.close();
});

describe('audit chain of a gatelog process', () => {
  it('logs its head at shutdown; verify passes with the log, and a cut tail shows against it', async () => {
    gl = await startGatelog({ env: { GATELOG_MASTER_KEY: MASTER } });
    const auth = { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' };
    for (const name of ['a', 'b']) {
      const r = await fetch(`${gl.url}/admin/keys`, { method: 'POST', headers: auth, body: JSON.stringify({ name }) });
      expect(r.status).toBe(201);
    }
    await gl.stop();
    const logs = gl.logs();
    const heads = headsFromLog(logs);
    // chain open + two key.create rows.
    expect(heads).toHaveLength(1);
    expect(heads[0]!.seq).toBe(3);
    expect(logs).toContain(HEAD_LOG_MSG);
    const logFile = join(gl.dataDir, 'service.log');
    writeFileSync(logFile, logs);

    const ok = await cli(['audit', 'verify', '--data-dir', gl.dataDir, '--log', logFile]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain('audit trail verified: 3 rows in 1 chain');

    // Cut the tail, as someone hiding their last action would.
    store = await openStore({ clickhouse: 'embedded', database: 'gatelog' }, gl.dataDir);
    await store.client.command({ query: `ALTER TABLE gatelog.admin_audit DELETE WHERE seq = 3 SETTINGS mutations_sync = 2` });
    expect((await verifyAudit(store)).ok).toBe(true);
    const cut = await verifyAudit(store, { heads });
    expect(cut.ok).toBe(false);
    expect(cut.problem).toMatchObject({ kind: 'removed', seq: 3, chain_id: heads[0]!.chain_id });
    expect(cut.problem?.message).toContain('service log');
  }, 300_000);
});
