// Streaming a large embedded query result through a named pipe.
//
// chDB's own result stream hands every block to JS through its query-stream machinery, which
// ran at ~180 MB/s of CSV and ~100 MB/s of JSONL on 2.8 KB call rows here. The same query
// written by ClickHouse's own file output (`INTO OUTFILE`) ran at ~300–460 MB/s and
// ~165–195 MB/s. So an export points `INTO OUTFILE` at a FIFO in a private temporary
// directory and reads the other end as a socket (epoll, no thread-pool hop per read). The
// pipe's buffer is the only buffering: when the reader stops, ClickHouse's writer blocks.
//
// Our own write end stays open until the query settles, so the reader sees end-of-file only
// after ClickHouse is done (or failed before it ever opened the pipe), and the query's outcome
// decides whether the stream ended or failed. The reader stays open until then too: with no
// reader, ClickHouse's file output ignores the broken pipe and computes on (and a query that
// had not yet opened the FIFO would block in open forever). A reader that stops early or an
// abort instead kills the query (`cancel`, repeated until it takes) and drains the pipe.
import { execFile } from 'node:child_process';
import { closeSync, constants as fsc, openSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Runs the query, which writes `INTO OUTFILE` the FIFO path it is given (with APPEND), to completion. */
export type RunIntoFile = (fifoPath: string) => Promise<unknown>;
/** Asks the engine to stop the query writing into this FIFO (a no-op when none is running). */
export type CancelIntoFile = (fifoPath: string) => Promise<unknown>;

/** A SQL string literal: ClickHouse escapes a quote and a backslash with a backslash. */
export function sqlString(s: string): string {
  return `'${s.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

/** How often a cancel is repeated while the query has not settled (it may not have started). */
const CANCEL_EVERY_MS = 100;

/**
 * Yields what `runQuery` writes into the FIFO, as it is written. Throws the query's error if it
 * failed, or an AbortError when `signal` aborted; stops the query when the consumer stops early.
 */
export async function* streamThroughFifo(runQuery: RunIntoFile, cancelQuery: CancelIntoFile, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  signal?.throwIfAborted();
  const dir = await mkdtemp(join(tmpdir(), 'gatelog-stream-'));
  const fifo = join(dir, 'out');
  let writeFd = -1;
  let reader: Socket | undefined;
  let settled: Promise<void> | undefined;
  let isSettled = false;
  let failure: { error: unknown } | undefined;
  let killer: NodeJS.Timeout | undefined;
  const cancel = (): void => {
    if (killer || isSettled) return;
    const once = (): void => {
      cancelQuery(fifo).catch(() => undefined);
    };
    once();
    killer = setInterval(once, CANCEL_EVERY_MS);
  };
  signal?.addEventListener('abort', cancel, { once: true });
  try {
    await run('mkfifo', ['-m', '600', fifo]);
    // Reader first (a non-blocking open of a FIFO's read end always succeeds), then our own
    // writer, which holds end-of-file back until the query has settled.
    const readFd = openSync(fifo, fsc.O_RDONLY | fsc.O_NONBLOCK);
    try {
      writeFd = openSync(fifo, fsc.O_WRONLY | fsc.O_NONBLOCK);
    } catch (err) {
      closeSync(readFd);
      throw err;
    }
    reader = new Socket({ fd: readFd, readable: true, writable: false });
    // Errors surface through iteration; this keeps one during the final drain from being unhandled.
    reader.on('error', () => undefined);
    settled = runQuery(fifo)
      .then(
        () => undefined,
        (error: unknown) => {
          failure = { error };
        },
      )
      .finally(() => {
        isSettled = true;
        if (killer) clearInterval(killer);
        closeSync(writeFd);
        writeFd = -1;
      });

    // Leaving this loop early must not close the reader (see above): the finally drains it.
    // Chunks go on as read (up to the pipe's 64 KiB): gathering them into larger ones measured
    // slower end to end.
    for await (const chunk of reader.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      if (!signal?.aborted) yield chunk;
    }
    await settled;
    signal?.throwIfAborted();
    if (failure) throw failure.error;
  } finally {
    signal?.removeEventListener('abort', cancel);
    if (settled && !isSettled && reader) {
      cancel();
      reader.on('data', () => undefined);
      reader.resume();
    }
    if (settled) await settled;
    else if (writeFd !== -1) closeSync(writeFd);
    reader?.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}
