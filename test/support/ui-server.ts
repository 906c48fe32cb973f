// The built UI handler (ui/build, `pnpm --filter @gatelog/ui run build`) served on 127.0.0.1:0
// over a store the test opened, as the embedded launcher serves it.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Store } from '@gatelog/core';
import { provideUiContext } from '@gatelog/core/ui-context';

type NodeHandler = (req: IncomingMessage, res: ServerResponse) => void;
const HANDLER = join(import.meta.dirname, '..', '..', 'ui', 'build', 'handler.js');

export interface UiServer {
  base: string;
  close(): Promise<void>;
}

/** `adminUrl`: the UI runs apart from the proxy and writes (keys, audit rows) through its admin API. */
export async function startUiServer(store: Store, masterKey?: string, adminUrl?: string): Promise<UiServer> {
  // The plain-http test server tells the UI its scheme the way the launcher does.
  process.env['PROTOCOL_HEADER'] = 'x-forwarded-proto';
  provideUiContext({ store, masterKey, adminUrl });
  const { handler } = (await import(pathToFileURL(HANDLER).href)) as { handler: NodeHandler };
  const server: Server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  return {
    base: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
