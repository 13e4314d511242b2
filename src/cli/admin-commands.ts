/**
 * Local accounts of the admin dashboard (src/http/admin/auth.ts), on the configured database
 * (DATABASE_URL, else the embedded PGlite: stop the server first):
 *
 *   errand admin add-user --email <e-mail> [--password-stdin]   create, or set a new password
 *   errand admin list-users
 *   errand admin remove-user --email <e-mail>
 *
 * The e-mail must be an active directory person; what they see on the dashboard follows their
 * directory roles. Without --password-stdin a random password is generated and printed once; with it,
 * the password is the first line of stdin (e.g. `printf '%s\n' "$PW" | errand admin add-user ...`).
 * Exit 2 on bad arguments, 1 when the change is refused.
 */
import { randomBytes } from 'node:crypto';
import type { Database } from '../db/database.js';
import { listAccounts, passwordProblem, removeAccount, setAccountPassword } from '../http/admin/auth.js';
import { optionOf, withConfiguredDatabase } from './with-database.js';

export interface AdminIo { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; stdin: NodeJS.ReadableStream; db?: Database }

const USAGE = `usage: errand admin add-user --email <e-mail> [--password-stdin]
       errand admin list-users
       errand admin remove-user --email <e-mail>
`;

async function firstLine(stdin: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stdin) {
    text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    if (text.includes('\n') || text.length > 4096) break;
  }
  return text.split(/\r?\n/)[0] ?? '';
}

export async function runAdminCommand(sub: string | undefined, args: string[], io: AdminIo = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin }): Promise<number> {
  const email = optionOf(args, 'email');
  const fail = (problem: string) => { io.stderr.write(`admin ${sub ?? ''}: ${problem}\n${USAGE}`); return 2; };
  let run: (db: Database) => Promise<number>;
  if (sub === 'add-user') {
    if (!email || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) return fail('--email <e-mail of a directory person> is needed');
    let password: string;
    let generated = false;
    if (args.includes('--password-stdin')) {
      password = await firstLine(io.stdin);
      const problem = passwordProblem(password);
      if (problem) return fail(`the password needs ${problem}`);
    } else {
      password = randomBytes(18).toString('base64url');
      generated = true;
    }
    run = async (db) => {
      const done = await setAccountPassword(db, email, password, 'cli');
      io.stdout.write(`${done === 'created' ? 'created' : 'new password set for'} the dashboard account of ${email.toLowerCase()}${done === 'updated' ? ' (their password sessions were ended)' : ''}\n`);
      if (generated) io.stdout.write(`password: ${password}\n(shown once; give it to them over a safe channel, or use --password-stdin)\n`);
      return 0;
    };
  } else if (sub === 'remove-user') {
    if (!email) return fail('--email <e-mail> is needed');
    run = async (db) => {
      if (!(await removeAccount(db, email, 'cli'))) { io.stderr.write(`admin remove-user: no dashboard account for ${email}\n`); return 1; }
      io.stdout.write(`removed the dashboard account of ${email.toLowerCase()} and ended its sessions\n`);
      return 0;
    };
  } else if (sub === 'list-users') {
    run = async (db) => {
      const list = await listAccounts(db);
      io.stdout.write(list.length ? `${list.map((a) => `${a.email.padEnd(36)} ${a.name}${a.active ? '' : ' (disabled in the directory)'}  created ${a.createdAt.toISOString().slice(0, 10)} by ${a.createdBy}`).join('\n')}\n` : 'no dashboard accounts\n');
      return 0;
    };
  } else {
    io.stderr.write(USAGE);
    return 2;
  }
  try {
    return io.db ? await run(io.db) : await withConfiguredDatabase(run, { migrate: true });
  } catch (e) {
    io.stderr.write(`admin ${sub}: ${(e as Error).message}\n`);
    return 1;
  }
}
