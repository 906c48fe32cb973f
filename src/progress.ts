// A progress line for long CLI transfers, redrawn at most 10 times a second, only when the
// stream is a terminal (logs and pipes get nothing).
import type { ExportDigest } from '@gatelog/core';

const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;

export function progressLine(stream: NodeJS.WriteStream): { update(d: Pick<ExportDigest, 'rows' | 'bytes'>): void; done(): void } {
  if (!stream.isTTY) return { update() {}, done() {} };
  const t0 = performance.now();
  let last = 0;
  let shown = false;
  const draw = (d: Pick<ExportDigest, 'rows' | 'bytes'>): void => {
    const s = Math.max((performance.now() - t0) / 1000, 0.001);
    const spin = '|/-\\'[Math.floor(s * 8) % 4];
    stream.write(`\r\x1b[2K${spin} ${d.rows.toLocaleString('en')} rows  ${mb(d.bytes)}  ${mb(d.bytes / s)}/s  ${s.toFixed(0)} s`);
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
