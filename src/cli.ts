// `gatelog` command line: `gatelog start [--config PATH] [--port N] [--host H] [--data-dir DIR]`.
// First: V8 settings that must be in place before anything else loads.
import '@gatelog/core/heap-tuning';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GATELOG_VERSION } from '@gatelog/core/version';
import { DataDirLockedError } from '@gatelog/core/data-dir-lock';
import { CliError } from './keys-cli.ts';

// Each command loads what it needs when it runs: `gatelog keys …` talks to the admin API and
// needs none of the embedded store, the proxy or the UI (~1.3 s of CPU to load them all).

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

const HELP = `gatelog ${GATELOG_VERSION} — observability-first LLM proxy

Usage:
  gatelog start [--config PATH] [--port N] [--host HOST] [--data-dir DIR]
  gatelog keys create|list|show|update|revoke ...   (gatelog keys --help)
  gatelog users create|list|update|disable|enable|delete ...   (gatelog users --help)
  gatelog tokens create|list|revoke ...   (machine tokens for the admin API)
  gatelog audit verify [--from DATE] [--log FILE] [--url URL]   (gatelog audit --help)
  gatelog export --from D --to D --format csv|jsonl -o FILE   (gatelog export --help)
  gatelog export verify FILE [--url URL]
  gatelog erase --user U | --key K | --trace T | --before DATE [--rows]   (gatelog erase --help)
  gatelog holds list|place|lift ...   (legal holds)
  gatelog reprice --from D --to D [--model M]   (recompute recorded costs; gatelog reprice --help)
  gatelog version

Environment:
  GATELOG_CONFIG       path of gatelog.yaml (same as --config)
  GATELOG_DATA_DIR     embedded data directory (default ./data)
  GATELOG_MASTER_KEY   admin key; required to listen beyond 127.0.0.1
`;

async function start(argv: string[]): Promise<void> {
  const [{ createLogger, loadConfig }, { exitOnSignals }, { parseStartArgs }, { embeddedEnv }, { startEmbedded }] = await Promise.all([
    import('@gatelog/core'), import('@gatelog/core/shutdown'), import('./args.ts'), import('./env.ts'), import('./embedded.ts'),
  ]);
  const { vars: env, raw } = embeddedEnv();
  const args = parseStartArgs(argv);
  const { config, file } = loadConfig({ path: args.config ?? env.GATELOG_CONFIG, env: raw });
  const logger = createLogger(env.GATELOG_LOG_LEVEL ?? config.logging.level);
  logger.info({ version: GATELOG_VERSION, config: file ?? '(built-in defaults: mock provider)' }, 'starting gatelog');
  const app = await startEmbedded({
    config,
    dataDir: args.dataDir ?? env.GATELOG_DATA_DIR,
    masterKey: env.GATELOG_MASTER_KEY,
    logger,
    port: args.port,
    host: args.host,
    uiBuildDir: env.GATELOG_UI_BUILD ?? join(ROOT, 'ui', 'build'),
  });
  exitOnSignals(logger, () => app.close(), { graceMs: 10_000 });
}

/** What an admin command reads and writes: stdout, the environment, the network. */
async function commandIo(): Promise<import('./keys-cli.ts').Io> {
  const { commandEnv } = await import('@gatelog/core/env');
  return { out: (s) => process.stdout.write(s), env: commandEnv(), fetch };
}

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'start':
      return start(rest);
    case 'keys':
      process.exitCode = await (await import('./keys-cli.ts')).runKeysCli(rest, await commandIo());
      return;
    case 'users':
    case 'tokens':
      process.exitCode = await (await import('./users-cli.ts')).runPeopleCli(cmd, rest, await commandIo());
      return;
    case 'audit':
      process.exitCode = await (await import('./audit-cli.ts')).runAuditCli(rest, (await commandIo()).env);
      return;
    case 'export':
      process.exitCode = await (await import('./export-cli.ts')).runExportCli(rest, (await commandIo()).env);
      return;
    case 'erase':
    case 'holds':
      process.exitCode = await (await import('./erase-cli.ts')).runEraseCli(cmd, rest, await commandIo());
      return;
    case 'reprice':
      process.exitCode = await (await import('./reprice-cli.ts')).runRepriceCli(rest, await commandIo());
      return;
    case 'version':
    case '--version':
      process.stdout.write(`${GATELOG_VERSION}\n`);
      return;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return;
    default:
      process.stderr.write(`gatelog: unknown command "${cmd}"\n\n${HELP}`);
      process.exitCode = 2;
  }
}

main(process.argv.slice(2)).catch(async (err: unknown) => {
  // Loaded already when it is what was thrown.
  const { ConfigError } = await import('@gatelog/core/config');
  if (err instanceof CliError) {
    process.stderr.write(`gatelog: ${err.message}\n`);
    process.exit(err.exitCode);
  } else if (err instanceof ConfigError) {
    process.stderr.write(`gatelog: configuration error\n${err.message}\n`);
  } else if (err instanceof DataDirLockedError) {
    process.stderr.write(`gatelog: ${err.message}\n`);
  } else if (err instanceof Error && 'issues' in err) {
    process.stderr.write(`gatelog: invalid environment\n${err.message}\n`);
  } else if (err instanceof TypeError && (err as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    process.stderr.write(`gatelog: ${err.message}\n\n${HELP}`);
  } else {
    process.stderr.write(`gatelog: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  }
  process.exit(1);
});
