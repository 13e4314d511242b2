/**
 * A throwaway PostgreSQL cluster for fault tests that stop, kill or restart the server: initdb
 * and pg_ctl from /usr/lib/postgresql/<version>/bin, a data folder in a temp dir, a free port on
 * 127.0.0.1 and the socket in the temp dir, so the shared server that other suites use is never
 * touched. PostgreSQL refuses to run as root: as root, every command runs as the `postgres` user
 * (`runuser -u postgres --`) and the temp dir is handed to that user.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

/** The newest installed PostgreSQL bin folder that has initdb, or undefined. */
export function findPgBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => existsSync(path.join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(root, versions[0], 'bin') : undefined;
}

/** Why the cluster cannot be started here (for a clear skip message), or undefined when it can. */
export function pgClusterUnavailable(): string | undefined {
  if (!findPgBin()) return 'initdb not found under /usr/lib/postgresql/*/bin (apt-get install postgresql)';
  if (process.getuid?.() === 0 && !existsSync('/usr/sbin/runuser') && !existsSync('/sbin/runuser')) return 'running as root without runuser';
  return undefined;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface PgCluster {
  readonly port: number;
  readonly dir: string;
  /** A connection URL for `database` (default `postgres`). */
  url(database?: string): string;
  /** Stops the server (`fast`: disconnects clients cleanly; `immediate`: no shutdown checkpoint, crash recovery at the next start). */
  stop(mode?: 'smart' | 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  /** stop(mode), stays down for `downMs`, start(). */
  restart(mode: 'fast' | 'immediate', downMs?: number): Promise<void>;
  /** Server log so far (for failure messages). */
  log(): Promise<string>;
  /** Stops the server and deletes the temp dir. */
  destroy(): Promise<void>;
}

/** initdb + pg_ctl start on a free port; throws with the tool's output when that fails. */
export async function startPgCluster(o: { prefix?: string } = {}): Promise<PgCluster> {
  const bin = findPgBin();
  if (!bin) throw new Error(pgClusterUnavailable());
  const asRoot = process.getuid?.() === 0;
  const dir = await mkdtemp(path.join(tmpdir(), o.prefix ?? 'errand-pg-'));
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    await chown(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const data = path.join(dir, 'data');
  const logFile = path.join(dir, 'server.log');
  const port = await freePort();
  const pgTool = async (tool: string, args: string[]) => {
    const [cmd, full] = asRoot ? ['runuser', ['-u', 'postgres', '--', path.join(bin, tool), ...args]] : [path.join(bin, tool), args];
    try {
      return await run(cmd, full, { cwd: dir, timeout: 60_000 });
    } catch (e) {
      const x = e as { stdout?: string; stderr?: string; message: string };
      throw new Error(`${tool} ${args.join(' ')} failed: ${x.message}\n${x.stdout ?? ''}${x.stderr ?? ''}`);
    }
  };
  // fsync off: a throwaway cluster; `immediate` still exercises crash recovery (the OS keeps the pages).
  // synchronous_commit stays on: with it off, a commit is acknowledged before its WAL is written, and an
  // `immediate` stop loses commits the client was told about (seen: an event answered 200 after its
  // insert "committed", gone after the restart) — not what a production server does.
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=200`;
  await pgTool('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C']);
  const start = () => pgTool('pg_ctl', ['-D', data, '-l', logFile, '-o', opts, '-w', '-t', '60', 'start']).then(() => undefined);
  const stop = (mode: 'smart' | 'fast' | 'immediate' = 'fast') => pgTool('pg_ctl', ['-D', data, '-m', mode, '-w', '-t', '60', 'stop']).then(() => undefined);
  await start();
  const url = (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`;
  // the server answers queries (not only accepts connections)
  const c = new pg.Client({ connectionString: url() });
  await c.connect();
  await c.query('SELECT 1');
  await c.end();
  let destroyed = false;
  // a test process that ends without destroy() (a crash, a forced exit) must not leave a server running
  const onExit = () => {
    if (destroyed) return;
    const args = [path.join(bin, 'pg_ctl'), '-D', data, '-m', 'immediate', 'stop'];
    try { execFileSync(asRoot ? 'runuser' : args[0]!, asRoot ? ['-u', 'postgres', '--', ...args] : args.slice(1), { stdio: 'ignore', timeout: 20_000 }); } catch { /* not running */ }
    try { rmSync(dir, { recursive: true, force: true }); } catch { /* gone */ }
  };
  process.once('exit', onExit);
  return {
    port, dir, url, stop, start,
    async restart(mode, downMs = 0) {
      await stop(mode);
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      await start();
    },
    log: () => readFile(logFile, 'utf8').catch(() => ''),
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      process.removeListener('exit', onExit);
      await stop('immediate').catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
