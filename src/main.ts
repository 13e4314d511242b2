/**
 * The composition root: read config once, build the app, listen, and shut down cleanly on
 * SIGINT/SIGTERM. A bad config or catalogue refuses to start with every error listed.
 */
import { createApp } from './app.js';
import { CatalogueInvalidError } from './catalogue/loader.js';
import { ConfigError, loadConfig } from './config.js';
import { ConnectorConfigError } from './fulfilment/connectors/registry.js';
import { PolicyError } from './governance/policy.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const app = await createApp({ config });
  await app.start();
  const server = app.http.listen(config.port, () => {
    app.log.info({ port: config.port, database: app.db.kind, items: app.catalogue.list().length }, `errand is listening on http://localhost:${config.port}`);
  });
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down');
    server.close();
    await app.stop().catch((e: Error) => app.log.error({ err: e.message }, 'error while stopping'));
    process.exit(0); // Agenda may leave timers behind after stop()
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((e: unknown) => {
  if (e instanceof ConfigError || e instanceof CatalogueInvalidError || e instanceof ConnectorConfigError || e instanceof PolicyError) {
    process.stderr.write(`errand cannot start.\n${e.message}\n`);
  } else {
    process.stderr.write(`errand cannot start: ${(e as Error).stack ?? String(e)}\n`);
  }
  process.exit(1);
});
