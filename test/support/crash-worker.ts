/** A worker process for the crash test: the real app, configured from the environment, no HTTP. */
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';

const app = await createApp({ config: loadConfig(), workerName: 'crash-child', retryDelayMs: 200 });
await app.start();
process.stdout.write('ready\n');
