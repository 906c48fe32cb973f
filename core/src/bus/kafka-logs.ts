// kafkajs log lines through gatelog's logger, warn and above (its info level is chatty). Shared
// by the proxy's publisher and ingest's consumer; typed structurally so core needs no kafkajs.
import type { Logger } from '../logger.ts';

/** kafkajs' logLevel values (ERROR = 1, WARN = 2). */
const ERROR = 1;
const WARN = 2;

interface KafkaLogEntry {
  namespace: string;
  level: number;
  log: { message: string } & Record<string, unknown>;
}

/** A kafkajs `logCreator`. */
export function kafkaLogCreator(logger: Logger): () => (entry: KafkaLogEntry) => void {
  return () => ({ namespace, level, log }) => {
    const { message, ...extra } = log;
    if (level === ERROR) logger.error({ kafka: namespace, ...extra }, message);
    else if (level === WARN) logger.warn({ kafka: namespace, ...extra }, message);
  };
}
