/**
 * Spawning and killing worker processes (test/support/faults/worker.ts) for kill -9 tests.
 *
 * Start-up cost decides how many kill runs fit in CI: under tsx every child transpiles the app
 * again (about twice as slow), so the worker is bundled once per test process with esbuild (a
 * dependency of tsx) into node_modules/.cache/errand-faults/; `import.meta.url` keeps each source
 * file's own location, so migrations, public files and PROJECT_ROOT resolve as in the source tree.
 * FAULTS_WORKER_RUNNER=tsx uses `node --import tsx` instead.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PROJECT_ROOT } from '../../../src/config.js';

const WORKER_TS = path.join(PROJECT_ROOT, 'test/support/faults/worker.ts');
let command: Promise<{ args: string[]; cleanup(): Promise<void> }> | undefined;

async function bundle(): Promise<{ args: string[]; cleanup(): Promise<void> }> {
  if (process.env.FAULTS_WORKER_RUNNER === 'tsx') return { args: ['--import', 'tsx', WORKER_TS], cleanup: async () => undefined };
  try {
    const { build } = await import('esbuild');
    const dir = path.join(PROJECT_ROOT, 'node_modules/.cache/errand-faults');
    await mkdir(dir, { recursive: true });
    const outfile = path.join(dir, `worker-${process.pid}-${Date.now()}.mjs`);
    await build({
      entryPoints: [WORKER_TS], outfile, bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'error',
      plugins: [{
        name: 'keep-import-meta-url',
        setup(b) {
          b.onLoad({ filter: /\.ts$/ }, async (a) => ({ contents: (await readFile(a.path, 'utf8')).replaceAll('import.meta.url', JSON.stringify(pathToFileURL(a.path).href)), loader: 'ts' }));
        },
      }],
    });
    return { args: [outfile], cleanup: () => rm(outfile, { force: true }) };
  } catch (e) {
    process.stderr.write(`faults: esbuild bundle failed (${(e as Error).message}); workers run under tsx\n`);
    return { args: ['--import', 'tsx', WORKER_TS], cleanup: async () => undefined };
  }
}

/** Deletes the bundle (call in afterAll). */
export async function cleanupWorkerBundle(): Promise<void> {
  if (command) await (await command).cleanup();
  command = undefined;
}

export class WorkerProcess {
  readonly child: ChildProcess;
  /** Resolves when the app is built (and, for a standby, waiting for start()). */
  readonly warm: Promise<void>;
  stderr = '';
  exited = false;
  private started = false;
  private readonly exit: Promise<void>;
  private readonly lines: string[] = [];
  private waiters: (() => void)[] = [];

  constructor(readonly name: string, args: string[], env: Record<string, string>, readonly standby: boolean) {
    this.child = spawn(process.execPath, args, {
      cwd: PROJECT_ROOT, env: { ...process.env, ...env, FAULTS_WORKER_NAME: name, FAULTS_STANDBY: standby ? '1' : '0' }, stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stderr!.on('data', (c) => { this.stderr = (this.stderr + String(c)).slice(-20_000); });
    let buf = '';
    this.child.stdout!.on('data', (c) => {
      buf += String(c);
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) { this.lines.push(buf.slice(0, i)); buf = buf.slice(i + 1); }
      for (const w of this.waiters.splice(0)) w();
    });
    this.exit = new Promise((r) => this.child.once('exit', () => { this.exited = true; for (const w of this.waiters.splice(0)) w(); r(); }));
    this.warm = this.line('warm');
    this.warm.catch(() => undefined);
  }

  private line(what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.lines.includes(what)) return resolve();
        if (this.exited) return reject(new Error(`worker ${this.name} exited before "${what}":\n${this.stderr}`));
        this.waiters.push(check);
      };
      check();
    });
  }

  /** Starts the job runner of a standby (resolves when it runs). */
  async start(): Promise<void> {
    await this.warm;
    if (!this.started && this.standby) this.child.stdin!.write('start\n');
    this.started = true;
    await this.line('started');
  }

  /** kill -9, and waits until the process is gone. */
  async kill(): Promise<void> {
    if (!this.exited) this.child.kill('SIGKILL');
    await this.exit;
  }
}

/** Spawns a worker: the real app built from `env` (DATABASE_URL, CATALOGUE_DIR, JOB_* ...). */
export async function spawnWorker(name: string, env: Record<string, string>, o: { standby?: boolean } = {}): Promise<WorkerProcess> {
  command ??= bundle();
  const { args } = await command;
  return new WorkerProcess(name, args, env, o.standby ?? true);
}
