import { describe, expect, it } from 'vitest';
import { ProxyError } from '../errors.ts';
import { aliasOf, BATCH_FILE_MAX_LINES, joinYielding, rewriteBatchInput, type LineTarget, type ResolveLine } from './input.ts';

const TARGETS: Record<string, LineTarget> = {
  cheap: { provider: 'oai', kind: 'openai', batches: true, model: 'gpt-4o-mini' },
  'cheap-too': { provider: 'oai', kind: 'openai', batches: true, model: 'gpt-4o-mini' },
  'gpt-4o': { provider: 'oai', kind: 'openai', batches: true, model: 'gpt-4o' },
  az: { provider: 'azure-east', kind: 'azure', batches: true, model: 'dep-4o' },
  claude: { provider: 'ant', kind: 'anthropic', batches: false, model: 'claude-3-5-haiku-latest' },
};
const resolve: ResolveLine = (alias) => {
  if (alias === 'forbidden') throw new ProxyError(403, 'model_not_allowed', 'Key "k" is not allowed to use model "forbidden".', 'permission_error');
  const t = TARGETS[alias];
  if (!t) throw new ProxyError(404, 'model_not_found', `The model \`${alias}\` does not exist.`);
  return t;
};
const line = (id: string, model: unknown, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ custom_id: id, method: 'POST', url: '/v1/chat/completions', body: { model, messages: [{ role: 'user', content: id }] }, ...extra });

async function refusal(file: string): Promise<[number, string, string]> {
  const e = await rewriteBatchInput(file, resolve).then(() => null, (err: unknown) => err);
  expect(e).toBeInstanceOf(ProxyError);
  const p = e as ProxyError;
  return [p.status, p.code, p.message];
}

describe('batch input files', () => {
  it('rewrites each alias to its upstream model and keeps what it changed, line by line', async () => {
    const untouched = line('c', 'gpt-4o');
    const r = await rewriteBatchInput([line('a', 'cheap'), line('b', 'cheap-too'), untouched, '', line('d', 'cheap')].join('\r\n'), resolve);
    const out = Buffer.concat(r.parts).toString('utf8').trim().split('\n');
    expect(out.map((l) => (JSON.parse(l) as { body: { model: string } }).body.model)).toEqual(['gpt-4o-mini', 'gpt-4o-mini', 'gpt-4o', 'gpt-4o-mini']);
    // A line whose alias is the upstream name goes up byte for byte.
    expect(out[2]).toBe(untouched);
    expect(JSON.parse(out[0]!)).toEqual({ ...(JSON.parse(line('a', 'cheap')) as object), body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'a' }] } });
    expect([r.provider, r.lines]).toEqual(['oai', 4]);
    expect(r.lineModels).toEqual({ models: { 'gpt-4o-mini': 'cheap', 'gpt-4o': 'gpt-4o' }, lines: { b: 'cheap-too' } });
    expect(['a', 'b', 'c', 'd'].map((id, i) => aliasOf(r.lineModels, id, ['gpt-4o-mini', 'gpt-4o-mini', 'gpt-4o', 'gpt-4o-mini'][i]!))).toEqual(['cheap', 'cheap-too', 'gpt-4o', 'cheap']);
  });

  it('redacts a line\'s body before it goes upstream when its alias or key forwards redacted text', async () => {
    const redacting: ResolveLine = (alias) => (alias === 'private' ? { ...TARGETS['cheap']!, redact: (s: string) => s.replaceAll('ada@example.com', '[EMAIL_1]') } : resolve(alias));
    const r = await rewriteBatchInput([line('p', 'private', { body: { model: 'private', messages: [{ role: 'user', content: 'mail ada@example.com' }] } }), line('q', 'cheap')].join('\n'), redacting);
    const [p, q] = Buffer.concat(r.parts).toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as { body: { model: string; messages: { content: string }[] } });
    expect(p!.body).toEqual({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'mail [EMAIL_1]' }] });
    expect(q!.body.messages[0]!.content).toBe('q');
    expect(r.lineModels).toEqual({ models: { 'gpt-4o-mini': 'private' }, lines: { q: 'cheap' } });
  });

  it('refuses the file when a line holds a kind of content redaction.block names for its alias or key', async () => {
    const screening: ResolveLine = (alias) => (alias === 'guarded' ? { ...TARGETS['cheap']!, blocked: (s: string) => (s.includes('AKIA') ? ['AWS_KEY'] : []) } : resolve(alias));
    const ok = await rewriteBatchInput([line('a', 'guarded'), line('b', 'cheap', { body: { model: 'cheap', messages: [{ role: 'user', content: 'AKIAEXAMPLEKEY123456' }] } })].join('\n'), screening);
    expect(ok.lines).toBe(2);
    const err = await rewriteBatchInput([line('a', 'guarded'), line('b', 'guarded', { body: { model: 'guarded', messages: [{ role: 'user', content: 'AKIAEXAMPLEKEY123456' }] } })].join('\n'), screening).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, code: 'content_blocked' });
    expect((err as Error).message).toMatch(/^Line 2 \(custom_id "b"\) of the batch file: contains content .*\(AWS_KEY\)/);
    expect((err as Error).message).not.toContain('AKIAEXAMPLEKEY123456');
  });

  it.each([
    ['not JSON', '{"custom_id":', 400, 'invalid_batch_line', 'Line 1 of the batch file: not valid JSON.'],
    ['no custom_id', JSON.stringify({ method: 'POST', url: '/v1/chat/completions', body: { model: 'cheap' } }), 400, 'invalid_batch_line', 'custom_id'],
    ['a GET', line('a', 'cheap', { method: 'GET' }), 400, 'invalid_batch_line', 'method must be "POST"'],
    ['an unknown url', line('a', 'cheap', { url: '/v1/images/generations' }), 400, 'invalid_batch_line', 'url must be one of'],
    ['no model', line('a', undefined), 400, 'missing_model', 'Line 1 (custom_id "a")'],
    ['a repeated custom_id', `${line('a', 'cheap')}\n${line('a', 'cheap')}`, 400, 'duplicate_custom_id', 'Line 2 (custom_id "a")'],
    ['a model the key may not use', `${line('a', 'cheap')}\n${line('b', 'forbidden')}`, 403, 'model_not_allowed', 'Line 2 (custom_id "b")'],
    ['an unknown model', line('a', 'nope'), 404, 'model_not_found', 'Line 1 (custom_id "a")'],
    ['two providers', `${line('a', 'cheap')}\n${line('b', 'az')}`, 400, 'mixed_providers', 'provider "azure-east", earlier lines by "oai"'],
    ['a kind without a Batch API', line('a', 'claude'), 400, 'batches_unsupported', 'kind "anthropic"'],
    ['no lines', '\n\n', 400, 'empty_batch_file', 'no requests'],
  ])('refuses %s', async (_what, file, status, code, text) => {
    const [s, c, m] = await refusal(file);
    expect([s, c]).toEqual([status, code]);
    expect(m).toContain(text);
  });

  it('refuses more lines than the cap with a 413', async () => {
    const file = Array.from({ length: BATCH_FILE_MAX_LINES + 1 }, (_, i) => line(`l${i}`, 'cheap')).join('\n');
    const [s, c] = await refusal(file);
    expect([s, c]).toEqual([413, 'file_too_large']);
  });
});

describe('batch input files and the event loop every tenant shares', () => {
  it('refuses a line larger than a call\'s body may be (server.body_limit) with a 413 naming it', async () => {
    const big = line('b', 'cheap', { note: 'x'.repeat(5000) });
    const e = await rewriteBatchInput(`${line('a', 'cheap')}\n${big}\n`, resolve, 4096).catch((err: unknown) => err);
    expect(e).toMatchObject({ status: 413, code: 'batch_line_too_large' });
    expect((e as ProxyError).message).toContain('Line 2');
    expect(await rewriteBatchInput(`${line('a', 'cheap')}\n${big}\n`, resolve, big.length)).toMatchObject({ lines: 2 });
  });

  it('lets other work run while it reads a file of long lines, and every byte arrives', async () => {
    // 300 lines of ~20 KB: about 6 MB, well under the 2,000 lines a count alone would yield after.
    const lines = Array.from({ length: 300 }, (_, i) => line(`l${i}`, i % 2 ? 'gpt-4o' : 'cheap', { note: 'y'.repeat(20_000) }));
    let turns = 0;
    let running = true;
    const turn = (): void => {
      turns++;
      if (running) setImmediate(turn);
    };
    setImmediate(turn);
    const r = await rewriteBatchInput(Buffer.from(`${lines.join('\r\n')}\r\n`), resolve);
    running = false;
    // At least one turn for every 256 KiB read.
    expect(turns).toBeGreaterThanOrEqual(20);
    const out = (await joinYielding(r.parts)).toString('utf8').trimEnd().split('\n');
    expect(out).toHaveLength(300);
    out.forEach((l, i) => {
      const o = JSON.parse(l) as { custom_id: string; body: { model: string }; note: string };
      expect([o.custom_id, o.body.model, o.note.length]).toEqual([`l${i}`, i % 2 ? 'gpt-4o' : 'gpt-4o-mini', 20_000]);
    });
    // A line kept as it came is the upload's own bytes (no CR left).
    expect(out[1]).toBe(lines[1]);
  });
});
