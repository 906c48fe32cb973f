// Pure pieces of the investigation UI: explorer URL state, spike detection, CSV cells and
// copy-as-curl. They live in ui/src/lib; the root vitest run picks their tests up here.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { explorerQuery, parseAfter, parseExplorer, parseInstant, toFilter } from '../../ui/src/lib/explorer.ts';
import { bucketStarts, densify, findSpikes } from '../../ui/src/lib/spikes.ts';
import { csvCell, csvLine } from '../../ui/src/lib/export-format.ts';
import { curlCommand } from '../../ui/src/lib/curl.ts';

describe('explorer URL state', () => {
  it('round-trips every filter through the query string and drops malformed values', () => {
    const q = '?range=1h&model=m&provider=p&key=k&team=t&user=u&status=error&error=rate_limited&cache=hit&stream=no&tags=env%3Dprod&trace=tr&session=se&costMin=0.5&costMax=2&latMin=10&latMax=900&q=hello&sort=cost&dir=asc';
    const s = parseExplorer(new URLSearchParams(q));
    expect(explorerQuery(s)).toBe(q);
    const bad = parseExplorer(new URLSearchParams('range=2y&status=maybe&sort=drop table&costMin=1e9x&from=yesterday&dir=sideways'));
    expect([bad.range, bad.status, bad.sort, bad.costMin, bad.from, bad.dir]).toEqual(['', '', 'time', '', '', 'desc']);
  });

  it('turns state into a store filter; presets count back from now', () => {
    const now = Date.UTC(2026, 0, 1, 12);
    const f = toFilter(parseExplorer(new URLSearchParams('range=15m&cache=miss&stream=yes&tags=a=1,b = 2,junk&latMin=5')), now);
    expect(f.from).toBe('2026-01-01T11:45:00.000Z');
    expect(f.to).toBeUndefined();
    expect([f.cacheHit, f.stream, f.latencyMin]).toEqual([false, true, 5]);
    expect(f.tags).toEqual([['a', '1'], ['b', '2']]);
    expect(parseInstant('2026-01-01T10:00')).toBe('2026-01-01T10:00:00.000Z');
    // Text search: whole words unless asked for any substring; junk match values fall back.
    expect(toFilter(parseExplorer(new URLSearchParams('q=ORD-1')), now)).toMatchObject({ text: 'ORD-1', wholeWords: true });
    expect(toFilter(parseExplorer(new URLSearchParams('q=ORD-1&match=part')), now)).toMatchObject({ text: 'ORD-1', wholeWords: false });
    expect(parseExplorer(new URLSearchParams('q=x&match=regex')).match).toBe('');
    expect(toFilter(parseExplorer(new URLSearchParams('match=part')), now).wholeWords).toBeUndefined();
  });

  it('accepts only well-formed cursors for the sort in use', () => {
    const id = '01a20819-51ea-76e1-88ad-eeeb7970b5c7';
    expect(parseAfter(`2026-01-01T00:00:00.000Z_${id}`, 'time')).toEqual({ value: '2026-01-01T00:00:00.000Z', requestId: id });
    expect(parseAfter(`12.5_${id}`, 'latency')).toEqual({ value: '12.5', requestId: id });
    expect(parseAfter(`12.5_${id}`, 'time')).toBeUndefined();
    expect(parseAfter(`1;drop_${id}`, 'cost')).toBeUndefined();
    expect(parseAfter('12.5_not-a-uuid', 'cost')).toBeUndefined();
  });
});

describe('spikes', () => {
  it('flags a bucket above 3x its trailing median and the minimum, nothing else', () => {
    const series = new Map([
      ['flat', [1, 1, 1, 1, 1.2, 1, 1]],
      ['spiky', [0.4, 0.4, 0.4, 0.4, 5, 0.4, 0.4]],
      ['tiny', [0.001, 0.001, 0.001, 0.001, 0.5, 0.001, 0.001]],
      ['new', [0, 0, 2, 0, 0, 0, 0]],
    ]);
    expect(findSpikes(series).map((s) => [s.grp, s.index, s.baseline])).toEqual([['spiky', 4, 0.4]]);
  });

  it('densifies sparse points onto aligned buckets', () => {
    const starts = bucketStarts(Date.UTC(2026, 0, 1, 0, 2), Date.UTC(2026, 0, 1, 0, 20), 300_000);
    expect(starts.map((t) => new Date(t).toISOString().slice(11, 16))).toEqual(['00:00', '00:05', '00:10', '00:15']);
    const m = densify([{ bucket: '2026-01-01T00:10:00Z', grp: 'a', v: 3 }], starts, (p) => p.v);
    expect(m.get('a')).toEqual([0, 0, 3, 0]);
  });
});

describe('CSV cells', () => {
  it('neutralizes formula starts and quotes separators', () => {
    const cases: [unknown, string][] = [
      ['=1+1', "'=1+1"], ['+x', "'+x"], ['-x', "'-x"], ['@x', "'@x"], ['\tx', "'\tx"], ['\rx', `"'\rx"`],
      ['a,b', '"a,b"'], ['say "hi"', '"say ""hi"""'], ['multi\nline', '"multi\nline"'],
      [null, ''], [3.5, '3.5'], [true, 'true'], [{ k: 'v' }, '"{""k"":""v""}"'], ['plain', 'plain'],
    ];
    for (const [input, want] of cases) expect(csvCell(input)).toBe(want);
    expect(csvLine(['a', 1])).toBe('a,1\r\n');
  });
});

describe('copy as curl', () => {
  it('is a shell command that sends the exact body and never a key', () => {
    const body = `{"messages":[{"role":"user","content":"it's $HOME \`x\` \\n GATELOG_BODY"}]}\nGATELOG_BODY`;
    const cmd = curlCommand({ endpoint: '/v1/chat/completions', request_body: body, trace_id: "t'1", session_id: '', user: '', tags: { a: 'b' } });
    expect(cmd).toContain(`-H 'Authorization: Bearer '"$GATELOG_KEY"`);
    expect(cmd).toContain(`-H 'x-gatelog-trace-id: t'\\''1'`);
    // The shell itself reproduces the body byte for byte (cat stands in for curl).
    const heredoc = cmd.slice(cmd.indexOf('--data-binary @- ') + '--data-binary @- '.length);
    const script = `cat ${heredoc}`;
    const out = execFileSync('/bin/sh', ['-c', script], { encoding: 'utf8' });
    expect(out).toBe(`${body}\n`);
  });
});
