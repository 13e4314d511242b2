/**
 * A real, throwaway OpenLDAP server for connector tests: `slapd` from Debian's package, run as a
 * child process on a free 127.0.0.1 port with its own slapd.conf (`-f`), schema from
 * /etc/ldap/schema (core, cosine, inetorgperson, nis) and an mdb database in a temp dir, seeded
 * offline with `slapadd`. Nothing touches a system slapd (if one runs, it keeps its own port).
 * Starting takes ~0.1-0.5 s; `stop()` sends SIGTERM, then SIGKILL after 5 s, and removes the dir.
 *
 * When slapd is missing the start fails with the install command (CI installs it in .ci/run).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'ldapts';

const run = promisify(execFile);

/** What to tell a developer whose machine has no slapd. */
export const SLAPD_INSTALL_HINT =
  'OpenLDAP slapd is not installed, so the LDAP connector tests cannot run. Install it with: ' +
  'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y slapd ldap-utils ' +
  '(.ci/run does this on CI).';

/** A user to seed (objectClass inetOrgPerson, under ou=people). */
export interface SeedUser { uid: string; mail: string; cn?: string; description?: string[] }
/** A group to seed (groupOfNames under ou=groups); members are uids of seeded users. */
export interface SeedGroup { cn: string; members: string[]; posix?: { gidNumber: number } }

/** A running server. */
export interface Slapd {
  url: string;
  port: number;
  baseDn: string;
  peopleDn: string;
  groupsDn: string;
  adminDn: string;
  adminPassword: string;
  /** Milliseconds from `startSlapd()` until the first successful bind. */
  startupMs: number;
  userDn(uid: string): string;
  groupDn(cn: string): string;
  /** Runs `fn` with a client bound as the admin (for checking the server directly), then unbinds. */
  withAdmin<T>(fn: (c: Client) => Promise<T>): Promise<T>;
  /** Stops slapd (SIGTERM, SIGKILL after 5 s) and removes its files; safe to call twice. */
  stop(): Promise<void>;
}

/** Finds an executable on PATH or in the sbin directories (root's PATH is not always complete). */
function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const dir of dirs.filter(Boolean)) {
    const p = join(dir, name);
    try { accessSync(p, constants.X_OK); return p; } catch { /* next */ }
  }
  return undefined;
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function seedLdif(baseDn: string, users: SeedUser[], groups: SeedGroup[]): string {
  const dc = baseDn.split(',')[0]!.split('=')[1]!;
  const blocks = [
    `dn: ${baseDn}\nobjectClass: dcObject\nobjectClass: organization\ndc: ${dc}\no: ${dc}`,
    `dn: ou=people,${baseDn}\nobjectClass: organizationalUnit\nou: people`,
    `dn: ou=groups,${baseDn}\nobjectClass: organizationalUnit\nou: groups`,
  ];
  for (const u of users) {
    const cn = u.cn ?? u.uid;
    const desc = (u.description ?? []).map((d) => `\ndescription: ${d}`).join('');
    blocks.push(`dn: uid=${u.uid},ou=people,${baseDn}\nobjectClass: inetOrgPerson\nuid: ${u.uid}\ncn: ${cn}\nsn: ${cn.split(' ').pop()}\nmail: ${u.mail}${desc}`);
  }
  for (const g of groups) {
    const dn = `dn: cn=${g.cn},ou=groups,${baseDn}\ncn: ${g.cn}`;
    blocks.push(g.posix
      ? `${dn}\nobjectClass: posixGroup\ngidNumber: ${g.posix.gidNumber}${g.members.map((m) => `\nmemberUid: ${m}`).join('')}`
      // groupOfNames requires a member: an empty group holds only the admin as a placeholder.
      : `${dn}\nobjectClass: groupOfNames${(g.members.length ? g.members.map((m) => `uid=${m},ou=people,${baseDn}`) : [`cn=admin,${baseDn}`]).map((m) => `\nmember: ${m}`).join('')}`);
  }
  return blocks.join('\n\n') + '\n';
}

function slapdConf(dir: string, baseDn: string, adminDn: string, password: string): string {
  return [
    ...['core', 'cosine', 'inetorgperson', 'nis'].map((s) => `include /etc/ldap/schema/${s}.schema`),
    'modulepath /usr/lib/ldap',
    'moduleload back_mdb',
    `pidfile ${join(dir, 'slapd.pid')}`,
    `argsfile ${join(dir, 'slapd.args')}`,
    'loglevel none',
    'database mdb',
    'maxsize 16777216',
    `suffix "${baseDn}"`,
    `rootdn "${adminDn}"`,
    `rootpw ${password}`,
    `directory ${join(dir, 'db')}`,
    'index objectClass,mail,uid,cn eq',
    '',
  ].join('\n');
}

async function bindOnce(url: string, dn: string, password: string): Promise<void> {
  const c = new Client({ url, connectTimeout: 1000, timeout: 2000 });
  try { await c.bind(dn, password); } finally { await c.unbind().catch(() => undefined); }
}

/** Starts a seeded slapd and resolves once it accepts the admin bind. */
export async function startSlapd(opts: { users?: SeedUser[]; groups?: SeedGroup[]; baseDn?: string } = {}): Promise<Slapd> {
  const t0 = Date.now();
  const slapd = findExecutable('slapd');
  const slapadd = findExecutable('slapadd');
  if (!slapd || !slapadd) throw new Error(SLAPD_INSTALL_HINT);
  const baseDn = opts.baseDn ?? 'dc=errand,dc=test';
  const adminDn = `cn=admin,${baseDn}`;
  const adminPassword = `pw-${randomBytes(9).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'errand-slapd-'));
  const conf = join(dir, 'slapd.conf');
  writeFileSync(join(dir, 'seed.ldif'), seedLdif(baseDn, opts.users ?? [], opts.groups ?? []));
  writeFileSync(conf, slapdConf(dir, baseDn, adminDn, adminPassword), { mode: 0o600 });
  mkdirSync(join(dir, 'db'));
  try {
    await run(slapadd, ['-q', '-f', conf, '-l', join(dir, 'seed.ldif')]);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`slapadd failed: ${(e as { stderr?: string }).stderr ?? String(e)}`);
  }

  let child: ChildProcess | undefined;
  let port = 0;
  let lastError = '';
  for (let attempt = 0; attempt < 3 && !child; attempt++) {
    port = await freePort();
    const url = `ldap://127.0.0.1:${port}/`;
    // -d 0: stay in the foreground (our child) without debug output; no -u/-g: root is fine here.
    const p = spawn(slapd, ['-f', conf, '-h', url, '-d', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr?.on('data', (b: Buffer) => { if (stderr.length < 4000) stderr += b.toString(); });
    let exited = false;
    p.once('exit', () => { exited = true; });
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && !exited) {
      try { await bindOnce(`ldap://127.0.0.1:${port}`, adminDn, adminPassword); child = p; break; } catch { await new Promise((r) => setTimeout(r, 50)); }
    }
    if (!child) {
      lastError = `slapd ${exited ? `exited with code ${p.exitCode}` : 'did not accept a bind within 15 s'}: ${stderr.trim() || '(no output)'}`;
      if (!exited) p.kill('SIGKILL');
    }
  }
  if (!child) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(lastError);
  }
  const proc = child;
  const url = `ldap://127.0.0.1:${port}`;
  // If the test process dies without afterAll, do not leave a slapd behind.
  const killOnExit = () => { proc.kill('SIGKILL'); };
  process.once('exit', killOnExit);
  let stopped: Promise<void> | undefined;
  return {
    url, port, baseDn, adminDn, adminPassword,
    peopleDn: `ou=people,${baseDn}`,
    groupsDn: `ou=groups,${baseDn}`,
    startupMs: Date.now() - t0,
    userDn: (uid) => `uid=${uid},ou=people,${baseDn}`,
    groupDn: (cn) => `cn=${cn},ou=groups,${baseDn}`,
    async withAdmin(fn) {
      const c = new Client({ url, connectTimeout: 2000, timeout: 5000 });
      try { await c.bind(adminDn, adminPassword); return await fn(c); } finally { await c.unbind().catch(() => undefined); }
    },
    stop() {
      process.removeListener('exit', killOnExit);
      stopped ??= new Promise<void>((resolve) => {
        const cleanUp = () => { rmSync(dir, { recursive: true, force: true }); resolve(); };
        if (proc.exitCode !== null || proc.signalCode !== null) { cleanUp(); return; }
        const killer = setTimeout(() => proc.kill('SIGKILL'), 5000);
        proc.once('exit', () => { clearTimeout(killer); cleanUp(); });
        proc.kill('SIGTERM');
      });
      return stopped;
    },
  };
}
