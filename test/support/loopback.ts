// A test server listening on 127.0.0.1, port 0: its port, base URL, and a close that does not
// wait for idle keep-alive connections.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Listening {
  port: number;
  url: string;
  close(): Promise<void>;
}

export async function listenOnLoopback(server: Server): Promise<Listening> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** What every fake upstream offers a test: its URL, the requests it took, its next behaviour, reset, close. */
export interface FakeControls<B, R> {
  url: string;
  requests: R[];
  behave(b: B): void;
  reset(): void;
  close(): Promise<void>;
}

/** The controls of a fake listening at `listening`, keeping its behaviour through `set` (`initial` after reset). */
export function fakeControls<B, R>(listening: Listening, requests: R[], set: (b: B) => void, initial: B): FakeControls<B, R> {
  return {
    url: listening.url,
    requests,
    behave: set,
    reset() {
      set(initial);
      requests.length = 0;
    },
    close: listening.close,
  };
}
