/**
 * A real, throwaway IMAP server for the e-mail tests: Debian's `dovecot` run as a child process in the
 * foreground (`-F`) with its own config in a temp dir: IMAP only, on a free 127.0.0.1 port, no TLS,
 * passwd-file authentication (PLAIN passwords), maildirs in the temp dir. Nothing touches a system
 * dovecot (its config, sockets and state are all under the temp dir).
 *
 * It runs as the current user (its internal processes too, with the user's primary group). Dovecot
 * refuses mail access as uid 0 and login processes as root, so when the tests run as root the mail
 * and login processes use `nobody` (the maildirs are chowned to it). Starting takes ~0.2-1 s; `stop()` sends SIGTERM (SIGKILL after 5 s) and
 * removes the dir. When dovecot is missing the start fails with the install command.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, chownSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { delimiter, join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { freePort } from './slapd.js';

export const DOVECOT_INSTALL_HINT =
  'Dovecot is not installed, so the IMAP part of the e-mail tests cannot run. Install it with: ' +
  'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y dovecot-imapd (.ci/run does this on CI).';

/** The dovecot binary, or undefined when it is not installed. */
export function dovecotBinary(): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'].filter(Boolean)) {
    const p = join(dir, 'dovecot');
    try { accessSync(p, constants.X_OK); return p; } catch { /* next */ }
  }
  return undefined;
}

/** The name of a group id (dovecot's internal sockets are chowned to it), from /etc/group. */
function groupName(gid: number): string | undefined {
  try {
    return readFileSync('/etc/group', 'utf8').split('\n').map((l) => l.split(':')).find((f) => Number(f[2]) === gid)?.[0];
  } catch {
    return undefined;
  }
}

export interface ImapUser { user: string; password: string }

export interface Dovecot {
  host: string;
  port: number;
  /** Milliseconds from `startDovecot()` until the first successful login. */
  startupMs: number;
  /** A connected client logged in as `user` (the caller logs out). */
  connect(user: ImapUser): Promise<ImapFlow>;
  /** Puts a raw message into a mailbox, as a delivery would (unseen). */
  deliver(user: ImapUser, raw: Buffer | string, mailbox?: string): Promise<void>;
  /** The messages of a mailbox with their flags. */
  messages(user: ImapUser, mailbox?: string): Promise<{ uid: number; flags: string[]; messageId: string | undefined }[]>;
  stop(): Promise<void>;
}

function config(dir: string, port: number, ids: { internalUser: string; internalGroup: string; loginUser: string; uid: number; gid: number }): string {
  return [
    `base_dir = ${join(dir, 'run')}`,
    `state_dir = ${join(dir, 'state')}`,
    `log_path = ${join(dir, 'dovecot.log')}`,
    'protocols = imap',
    'listen = 127.0.0.1',
    'ssl = no',
    'disable_plaintext_auth = no',
    'auth_mechanisms = plain login',
    `default_internal_user = ${ids.internalUser}`,
    `default_internal_group = ${ids.internalGroup}`,
    `default_login_user = ${ids.loginUser}`,
    'first_valid_uid = 1',
    'passdb {',
    '  driver = passwd-file',
    `  args = scheme=PLAIN username_format=%u ${join(dir, 'passwd')}`,
    '}',
    'userdb {',
    '  driver = passwd-file',
    `  args = username_format=%u ${join(dir, 'passwd')}`,
    `  default_fields = uid=${ids.uid} gid=${ids.gid} home=${join(dir, 'home')}/%u`,
    '}',
    `mail_location = maildir:${join(dir, 'mail')}/%u`,
    'service imap-login {',
    '  chroot =',
    '  inet_listener imap {',
    '    address = 127.0.0.1',
    `    port = ${port}`,
    '  }',
    '  inet_listener imaps {',
    '    port = 0',
    '  }',
    '}',
    'service anvil {',
    '  chroot =',
    '}',
    '',
  ].join('\n');
}

/** Starts dovecot with the given users and resolves once the first of them can log in. */
export async function startDovecot(opts: { users: ImapUser[] }): Promise<Dovecot> {
  const t0 = Date.now();
  const bin = dovecotBinary();
  if (!bin) throw new Error(DOVECOT_INSTALL_HINT);
  const me = userInfo();
  const root = me.uid === 0;
  // as root: mail and login processes as nobody (dovecot refuses uid 0 for both)
  const ids = root
    ? { internalUser: 'root', internalGroup: 'root', loginUser: 'nobody', uid: 65534, gid: 65534 }
    : { internalUser: me.username, internalGroup: groupName(me.gid) ?? me.username, loginUser: me.username, uid: me.uid, gid: me.gid };
  const dir = mkdtempSync(join(tmpdir(), 'errand-dovecot-'));
  for (const d of ['run', 'state', 'mail', 'home']) mkdirSync(join(dir, d));
  if (root) {
    chmodSync(dir, 0o755);
    for (const d of ['mail', 'home']) chownSync(join(dir, d), ids.uid, ids.gid);
  }
  writeFileSync(join(dir, 'passwd'), opts.users.map((u) => `${u.user}:{PLAIN}${u.password}::::::\n`).join(''), { mode: 0o644 });
  const first = opts.users[0];
  if (!first) throw new Error('startDovecot: at least one user');

  const login = async (port: number, u: ImapUser): Promise<ImapFlow> => {
    const c = new ImapFlow({ host: '127.0.0.1', port, secure: false, auth: { user: u.user, pass: u.password }, logger: false, disableAutoIdle: true, connectionTimeout: 3000, greetingTimeout: 3000 });
    c.on('error', () => undefined);
    await c.connect();
    return c;
  };

  let child: ChildProcess | undefined;
  let port = 0;
  let lastError = '';
  for (let attempt = 0; attempt < 3 && !child; attempt++) {
    port = await freePort();
    const conf = join(dir, `dovecot-${attempt}.conf`);
    writeFileSync(conf, config(dir, port, ids), { mode: 0o644 });
    const p = spawn(bin, ['-F', '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr?.on('data', (b: Buffer) => { if (stderr.length < 4000) stderr += b.toString(); });
    let exited = false;
    p.once('exit', () => { exited = true; });
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && !exited) {
      try { const c = await login(port, first); await c.logout().catch(() => undefined); child = p; break; } catch { await new Promise((r) => setTimeout(r, 100)); }
    }
    if (!child) {
      let log = '';
      try { log = readFileSync(join(dir, 'dovecot.log'), 'utf8').split('\n').slice(-8).join('\n'); } catch { /* none */ }
      lastError = `dovecot ${exited ? `exited with code ${p.exitCode}` : 'did not accept a login within 15 s'}: ${stderr.trim() || '(no output)'}\n${log}`;
      if (!exited) { p.kill('SIGKILL'); await new Promise((r) => p.once('exit', r)); }
      rmSync(join(dir, 'run'), { recursive: true, force: true });
      mkdirSync(join(dir, 'run'));
    }
  }
  if (!child) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(lastError);
  }
  const proc = child;
  const killOnExit = () => { proc.kill('SIGKILL'); };
  process.once('exit', killOnExit);
  let stopped: Promise<void> | undefined;
  const withClient = async <T>(u: ImapUser, fn: (c: ImapFlow) => Promise<T>): Promise<T> => {
    const c = await login(port, u);
    try { return await fn(c); } finally { await c.logout().catch(() => undefined); }
  };
  return {
    host: '127.0.0.1', port, startupMs: Date.now() - t0,
    connect: (u) => login(port, u),
    deliver: (u, raw, mailbox = 'INBOX') => withClient(u, async (c) => { await c.append(mailbox, typeof raw === 'string' ? Buffer.from(raw) : raw, []); }),
    messages: (u, mailbox = 'INBOX') => withClient(u, async (c) => {
      const lock = await c.getMailboxLock(mailbox);
      try {
        const out: { uid: number; flags: string[]; messageId: string | undefined }[] = [];
        if (!c.mailbox || !(c.mailbox as { exists?: number }).exists) return out;
        for await (const m of c.fetch('1:*', { uid: true, flags: true, envelope: true })) out.push({ uid: m.uid, flags: [...(m.flags ?? [])], messageId: m.envelope?.messageId });
        return out;
      } finally { lock.release(); }
    }),
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
