/**
 * The real errand server as a child process for load runs: `node --import tsx src/main.ts` (what
 * `npm start` runs, without tsx's wrapper process, so the child's pid is the server's own and its
 * CPU and RSS can be read from /proc). Its output goes to a log file; `stop()` sends SIGTERM and
 * waits for a clean exit (SIGKILL after a grace period).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { sleep } from './stats.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A TCP port free right now on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
  });
}

/** Writes the demo directory (seed/people.yaml) plus `extra` people to `file`. */
export async function writeSeed(file: string, extra: Record<string, unknown>[]): Promise<void> {
  const demo = parse(await readFile(path.join(REPO_ROOT, 'seed', 'people.yaml'), 'utf8')) as { people: Record<string, unknown>[] };
  await writeFile(file, stringify({ people: [...demo.people, ...extra] }));
}

export interface ErrandServer { pid: number; base: string; child: ChildProcess; logFile: string; stop(): Promise<number | null> }

/**
 * Starts the server with exactly `env` (plus PATH/HOME/TMPDIR) and waits for GET /healthz.
 * `nodeArgs` go before `--import tsx` (e.g. --max-old-space-size).
 */
export async function startErrand(o: { env: Record<string, string>; logFile: string; nodeArgs?: string[]; readyTimeoutMs?: number }): Promise<ErrandServer> {
  const port = Number(o.env.PORT ?? await freePort());
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
    ...o.env, PORT: String(port),
  };
  const log = createWriteStream(o.logFile);
  const child = spawn(process.execPath, [...(o.nodeArgs ?? []), '--import', 'tsx', 'src/main.ts'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  let exited: number | null | undefined;
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => { exited = code; r(code); }));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (o.readyTimeoutMs ?? 180_000);
  for (;;) {
    if (exited !== undefined) {
      const tail = (await readFile(o.logFile, 'utf8').catch(() => '')).split('\n').slice(-30).join('\n');
      throw new Error(`the errand server exited (code ${exited}) before it was ready; last lines of ${o.logFile}:\n${tail}`);
    }
    try { if ((await fetch(`${base}/healthz`)).status < 500) break; } catch { /* not listening yet */ }
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`the errand server was not ready within ${(o.readyTimeoutMs ?? 180_000) / 1000} s (see ${o.logFile})`); }
    await sleep(250);
  }
  return {
    pid: child.pid!, base, child, logFile: o.logFile,
    async stop() {
      if (exited === undefined) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await exit;
        clearTimeout(killer);
      }
      log.end();
      return exited ?? null;
    },
  };
}
