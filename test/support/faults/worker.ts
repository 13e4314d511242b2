/**
 * A worker process for the fault tests: the real app (createApp from the environment, as
 * `npm start` builds it), without HTTP. It prints `warm` once the app is built; with
 * FAULTS_STANDBY=1 it then waits for a line on stdin before starting the job runner (a warm spare
 * that takes over at once when the active worker is killed), and prints `started`. It exits when
 * stdin closes, so a worker never outlives the test process that spawned it.
 */
import { createApp } from '../../../src/app.js';
import { loadConfig } from '../../../src/config.js';

const name = process.env.FAULTS_WORKER_NAME ?? `faults-worker-${process.pid}`;
const app = await createApp({ config: loadConfig(), workerName: name, retryDelayMs: 200 });
process.stdout.write('warm\n');
const lines = process.stdin;
lines.setEncoding('utf8');
lines.on('end', () => process.exit(0));
if (process.env.FAULTS_STANDBY === '1') await new Promise<void>((r) => lines.once('data', () => r()));
else lines.resume();
await app.start();
process.stdout.write('started\n');
