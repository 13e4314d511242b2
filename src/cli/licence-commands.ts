/**
 * Licence pools on the configured database (DATABASE_URL, else the embedded PGlite: stop the server
 * first). Every change is audited with the actor (`--actor <admin e-mail>`, else "cli").
 *
 *   errand licence add --product visio --seats 5 --owner euc@example.com [--cost 180] [--title "Microsoft Visio"]
 *   errand licence set --product visio [--seats 8] [--cost 175] [--owner e-mail] [--title text]
 *   errand licence list
 *   errand licence waitlist [--product visio]
 *
 * Requests waiting for a seat continue by themselves when seats are added: the running service's
 * licence job hands them out within a minute (the admin API does it at once).
 * Exit 2 on bad arguments, 1 when the change is refused.
 */
import type { Database } from '../db/database.js';
import { findPerson } from '../directory/directory.repository.js';
import { LicenceError, LicenceService, type PoolPatch } from '../requests/checks/licences.js';
import { optionOf, withConfiguredDatabase } from './with-database.js';

export interface LicenceIo { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; db?: Database }

const USAGE = `usage: errand licence add --product <key> --seats <n> --owner <e-mail> [--cost <per seat>] [--title <text>] [--actor <admin e-mail>]
       errand licence set --product <key> [--seats <n>] [--cost <per seat>] [--owner <e-mail>] [--title <text>] [--actor <admin e-mail>]
       errand licence list
       errand licence waitlist [--product <key>]
`;

const num = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));

export async function runLicenceCommand(sub: string | undefined, args: string[], io: LicenceIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const opt = (name: string) => optionOf(args, name);
  const fail = (problem: string) => { io.stderr.write(`licence ${sub ?? ''}: ${problem}\n${USAGE}`); return 2; };
  const product = opt('product');
  const seats = num(opt('seats'));
  const cost = num(opt('cost'));
  if (seats !== undefined && !Number.isInteger(seats)) return fail(`--seats: expected a whole number, got "${opt('seats')}"`);
  if (cost !== undefined && Number.isNaN(cost)) return fail(`--cost: expected an amount, got "${opt('cost')}"`);
  let run: (db: Database, svc: LicenceService, actor: string) => Promise<number>;
  if (sub === 'add') {
    if (!product || seats === undefined || !opt('owner')) return fail('--product, --seats and --owner are needed');
    run = async (_db, svc, actor) => {
      const p = await svc.addPool({ product, seats, costPerSeat: cost ?? 0, owner: opt('owner')!, title: opt('title') ?? null }, actor);
      io.stdout.write(`added ${p.product}: ${p.seats} seats at ${p.costPerSeat} per seat, owner ${p.owner}\n`);
      return 0;
    };
  } else if (sub === 'set') {
    if (!product) return fail('--product is needed');
    const patch: PoolPatch = { ...(seats !== undefined ? { seats } : {}), ...(cost !== undefined ? { costPerSeat: cost } : {}), ...(opt('owner') ? { owner: opt('owner')! } : {}), ...(opt('title') ? { title: opt('title')! } : {}) };
    if (!Object.keys(patch).length) return fail('give at least one of --seats, --cost, --owner, --title');
    run = async (_db, svc, actor) => {
      const p = await svc.updatePool(product, patch, actor);
      io.stdout.write(`${p.product}: ${p.seats} seats (${p.used} in use, ${p.free} free, ${p.waiting} waiting) at ${p.costPerSeat} per seat, owner ${p.owner}\n`);
      if (p.waiting && p.seats > p.used) io.stdout.write('waiting requests get the free seats from the running service within a minute\n');
      return 0;
    };
  } else if (sub === 'list') {
    run = async (_db, svc) => {
      const pools = await svc.listPools();
      if (!pools.length) { io.stdout.write('no licence pools\n'); return 0; }
      io.stdout.write(`${'product'.padEnd(20)} ${'seats'.padStart(5)} ${'reserved'.padStart(8)} ${'consumed'.padStart(8)} ${'free'.padStart(5)} ${'waiting'.padStart(7)} ${'cost/seat'.padStart(9)}  owner\n`);
      for (const p of pools) io.stdout.write(`${p.product.padEnd(20)} ${String(p.seats).padStart(5)} ${String(p.reserved).padStart(8)} ${String(p.consumed).padStart(8)} ${String(p.free).padStart(5)} ${String(p.waiting).padStart(7)} ${p.costPerSeat.toFixed(2).padStart(9)}  ${p.owner}\n`);
      return 0;
    };
  } else if (sub === 'waitlist') {
    run = async (_db, svc) => {
      const list = await svc.waitlist(product);
      io.stdout.write(list.length ? `${list.map((w) => `${w.product.padEnd(20)} #${w.position}  ${w.ref}  ${w.requester}  since ${w.since.toISOString().slice(0, 16).replace('T', ' ')} UTC`).join('\n')}\n` : `nobody is waiting${product ? ` for ${product}` : ''}\n`);
      return 0;
    };
  } else {
    io.stderr.write(USAGE);
    return sub === undefined || sub === 'help' ? 0 : 2;
  }
  const exec = async (db: Database): Promise<number> => {
    const given = opt('actor');
    let actor = 'cli';
    if (given) {
      const p = await findPerson(db, given);
      if (!p || !p.roles.includes('admin')) { io.stderr.write(`licence ${sub}: ${given} is not an admin in the directory\n`); return 1; }
      actor = p.email;
    }
    return run(db, new LicenceService(db), actor);
  };
  try {
    return io.db ? await exec(io.db) : await withConfiguredDatabase(exec, { migrate: true });
  } catch (e) {
    if (e instanceof LicenceError) { io.stderr.write(`licence ${sub}: ${e.message}\n`); return 1; }
    io.stderr.write(`licence ${sub}: ${(e as Error).message}\n`);
    return 1;
  }
}
