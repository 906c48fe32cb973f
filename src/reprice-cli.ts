// `gatelog reprice --from D --to D [--model M]`: recompute the recorded cost of the calls in a
// range with the running gatelog's current price table (config `pricing` + genai-prices),
// through its admin API (POST /admin/reprice), so the audit trail records who did it.
import { parseArgs } from 'node:util';
import type { RepriceReceipt } from '@gatelog/core';
import { CliError, call, type Io } from './keys-cli.ts';
import { DEFAULT_URL, isoDate } from './admin-http.ts';

export const REPRICE_HELP = `Usage:
  gatelog reprice --from DATE --to DATE [--model MODEL]
      Recompute cost_usd of the calls that started in [from, to) (optionally only one model:
      requested, deployment or upstream) from their stored token counts with the current
      price table; the spend views and rollups follow. Each row is stamped with the price
      table's version and the time; one audit row records the run. Owners only.
Options: --url URL (default ${DEFAULT_URL}), --json
Environment: GATELOG_MASTER_KEY (the admin key of the running gatelog)
`;

const OPTIONS = {
  url: { type: 'string' },
  json: { type: 'boolean' },
  from: { type: 'string' },
  to: { type: 'string' },
  model: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const usd = (n: number): string => `$${n.toFixed(6)}`;

export async function runRepriceCli(argv: string[], io: Io): Promise<number> {
  try {
    const { values: v } = parseArgs({ args: argv, options: OPTIONS, strict: true });
    if (v.help) {
      io.out(REPRICE_HELP);
      return 0;
    }
    if (!v.from || !v.to) throw new CliError(`name --from and --to\n\n${REPRICE_HELP}`, 2);
    const body = { from: isoDate(v.from, '--from'), to: isoDate(v.to, '--to'), ...(v.model ? { model: v.model } : {}) };
    const r = (await call(io, v.url ?? DEFAULT_URL, 'POST', '/admin/reprice', body)) as RepriceReceipt;
    io.out(v.json ? `${JSON.stringify(r)}\n` : `repriced ${r.rows} calls (${r.changed} changed) with ${r.price_version}: ${usd(r.before_usd)} → ${usd(r.after_usd)}; ${r.unpriced} without a known price; ${r.buckets} rollup buckets adjusted in ${r.ms} ms\n`);
    return 0;
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`gatelog reprice: ${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof TypeError && 'code' in err) {
      process.stderr.write(`gatelog reprice: ${err.message}\n\n${REPRICE_HELP}`);
      return 2;
    }
    throw err;
  }
}
