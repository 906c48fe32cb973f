// A progress bar for long CLI transfers (rows of an expected total, bytes, rate), redrawn at
// most 10 times a second, only when the stream is a terminal (logs and pipes get nothing).
import type { ExportDigest } from '@gatelog/core';

const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;

export function progressLine(stream: NodeJS.WriteStream, totalRows?: number): { update(d: Pick<ExportDigest, 'rows' | 'bytes'>): void; done(): void } {
  if (!stream.isTTY) return { update() {}, done() {} };
  const t0 = performance.now();
  let last = 0;
  let shown = false;
  const draw = (d: Pick<ExportDigest, 'rows' | 'bytes'>): void => {
    const s = Math.max((performance.now() - t0) / 1000, 0.001);
    const done = totalRows ? Math.min(d.rows / totalRows, 1) : 0;
    const bar = totalRows ? `[${'#'.repeat(Math.round(done * 30)).padEnd(30, '.')}] ${(done * 100).toFixed(0).padStart(3)}%  ` : '';
    const rows = `${d.rows.toLocaleString('en')}${totalRows ? `/${totalRows.toLocaleString('en')}` : ''} rows`;
    stream.write(`\r\x1b[2K${bar}${rows}  ${mb(d.bytes)}  ${mb(d.bytes / s)}/s  ${s.toFixed(0)} s`);
    shown = true;
  };
  return {
    update(d) {
      const now = performance.now();
      if (now - last < 100) return;
      last = now;
      draw(d);
    },
    done() {
      if (shown) stream.write('\r\x1b[2K');
    },
  };
}
