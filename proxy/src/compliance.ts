// The proxy service's compliance work in the background, for as long as the app is open: the
// audit chain's head in the service log every minute and at close (a cut tail then shows to
// `gatelog audit verify --log`), and the scheduled exports of `config.exports`.
import type { FastifyInstance } from 'fastify';
import { auditChain, type GatelogConfig, type Logger, type Store } from '@gatelog/core';
import { startScheduledExports } from '@gatelog/core/store/scheduled-exports';

export function startCompliance(app: FastifyInstance, deps: { store: Store; config: GatelogConfig; logger: Logger }): void {
  const heads = auditChain(deps.store).logHeads(deps.logger);
  const schedules = startScheduledExports({ store: deps.store, schedules: deps.config.exports, retention: deps.config.retention, logger: deps.logger });
  app.addHook('onClose', async () => {
    await schedules.stop();
    heads.stop();
  });
}
