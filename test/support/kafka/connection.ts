// Test fixture only (docker-compose runs the real Kafka in production): one client socket.
// Splits the size-prefixed request frames, decodes the v1 request header (api key, version,
// correlation id, client id) and answers strictly in order, one request at a time, the way a
// Kafka broker mutes a channel while a request is in flight. While stalled, frames are read
// but left queued: the client sees a broker that accepts bytes and never answers.
import type { ApiHandler, BrokerState } from './handler-types.ts';
import { ProtocolReader } from './protocol-reader.ts';
import { ProtocolWriter } from './protocol-writer.ts';
import type { Socket } from 'node:net';

const MAX_FRAME = 100 * 1024 * 1024;

export interface ConnectionDeps {
  state: BrokerState;
  handlers: ReadonlyMap<number, ApiHandler>;
  isStalled(): boolean;
  onError(err: Error): void;
}

export class BrokerConnection {
  readonly socket: Socket;
  private readonly deps: ConnectionDeps;
  private readonly abort = new AbortController();
  /** Received bytes not yet framed, as they came: joined once a whole frame is in (a 20 MB frame in 64 KB chunks would otherwise be copied ~300 times). */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private readonly frames: Buffer[] = [];
  private busy = false;

  constructor(socket: Socket, deps: ConnectionDeps) {
    this.socket = socket;
    this.deps = deps;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => this.abort.abort());
    socket.on('error', () => undefined); // peers vanish mid-test on purpose; 'close' follows
  }

  /** Picks up queued frames again after an unstall. */
  resume(): void {
    void this.pump();
  }

  close(): void {
    this.abort.abort();
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    while (this.pendingBytes >= 4) {
      if (this.pending[0]!.length < 4) this.pending = [Buffer.concat(this.pending)];
      const size = this.pending[0]!.readInt32BE(0);
      if (size < 0 || size > MAX_FRAME) {
        this.fail(new Error(`request frame of ${size} bytes`));
        return;
      }
      if (this.pendingBytes < 4 + size) break;
      const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
      this.frames.push(all.subarray(4, 4 + size));
      const rest = all.subarray(4 + size);
      this.pending = rest.length > 0 ? [rest] : [];
      this.pendingBytes = rest.length;
    }
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.frames.length > 0 && !this.deps.isStalled() && !this.socket.destroyed) {
        await this.process(this.frames.shift()!);
      }
    } catch (err) {
      this.fail(err as Error);
    } finally {
      this.busy = false;
    }
  }

  private async process(frame: Buffer): Promise<void> {
    const r = new ProtocolReader(frame);
    const apiKey = r.int16();
    const apiVersion = r.int16();
    const correlationId = r.int32();
    const clientId = r.nullableString() ?? '';
    const handler = this.deps.handlers.get(apiKey);
    // Too-new ApiVersions requests get a v0 error answer (the client then downgrades); any
    // other unsupported API or version is a client bug, and a real broker would hang up too.
    const versionOk = handler && (apiVersion >= handler.minVersion && (apiVersion <= handler.maxVersion || handler.name === 'ApiVersions'));
    if (!handler || !versionOk) {
      this.fail(new Error(`unsupported api ${apiKey} v${apiVersion} from ${clientId}`));
      return;
    }
    const result = await handler.handle(this.deps.state, { apiVersion, clientId, signal: this.abort.signal }, r);
    if (result === 'no-response') return;
    if (result === 'drop-connection') {
      this.close();
      return;
    }
    if (this.socket.destroyed) return;
    const body = result.toBuffer();
    this.socket.write(new ProtocolWriter().int32(body.length + 4).int32(correlationId).raw(body).toBuffer());
  }

  private fail(err: Error): void {
    this.deps.onError(err);
    this.close();
  }
}
