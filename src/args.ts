// Command-line parsing for the `gatelog` CLI (node:util parseArgs, strict: unknown flags fail).
import { parseArgs } from 'node:util';

export interface StartArgs {
  config: string | undefined;
  port: number | undefined;
  host: string | undefined;
  dataDir: string | undefined;
}

export function parseStartArgs(argv: string[]): StartArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c' },
      port: { type: 'string', short: 'p' },
      host: { type: 'string' },
      'data-dir': { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  let port: number | undefined;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port: expected 0-65535, got "${values.port}"`);
  }
  return { config: values.config, port, host: values.host, dataDir: values['data-dir'] };
}
