/**
 * `errand change ...`: catalogue change requests (src/catalogue/change) on the configured database
 * (DATABASE_URL, else the embedded PGlite: stop the server first), for people without chat and for
 * scripts. The same service as the chat cards and /admin/api/changes, so the same rules apply.
 *
 *   change create <draft> --reason "..." --author e [--emergency] [--at <ISO time>]
 *   change create --rollback <version> --reason "..." --author e [--emergency] [--at <ISO time>]
 *   change show <id> [--json]          the diff, impact assessment, dry run and approvals
 *   change list [--all]                open changes (all: every change), with freeze windows
 *   change approve <id> --actor e [--step <step id>]
 *   change deny <id> --actor e --reason "..." [--step <step id>]
 *   change cancel <id> --actor e --reason "..."
 *   change publish-due                 publishes approved changes whose time has come (the service's job does this)
 *   change freeze add --from <ISO> --to <ISO> --reason "..." --actor e
 *   change freeze list [--all]
 *   change freeze remove <id> --actor e [--reason "..."]
 *
 * Exit 0 when done, 1 when refused (not allowed, dry run failed, publishing refused), 2 on bad arguments.
 */
import type { Writable } from 'node:stream';
import { loadConfig, type Config } from '../config.js';
import type { Database } from '../db/database.js';
import { CatalogueVersionStore } from '../catalogue/versions/store.js';
import { ChangeError, ChangeService, type DecideOutcome } from '../catalogue/change/service.js';
import { renderChange, dryRunLines, fmtTime } from '../catalogue/change/render.js';
import { whatOf } from '../catalogue/change/model.js';
import { optionOf, withConfiguredDatabase, positionals, slackOperations } from './with-database.js';

export interface ChangeIo { stdout: Writable | NodeJS.WritableStream; stderr: Writable | NodeJS.WritableStream; db?: Database; config?: Config; now?: () => Date }

const USAGE = `usage: errand change create <draft> --reason "..." --author e-mail [--emergency] [--at <ISO time>]
       errand change create --rollback <version> --reason "..." --author e-mail [--emergency] [--at <ISO time>]
       errand change show <id> [--json]
       errand change list [--all]
       errand change approve <id> --actor e-mail [--step <step id>]
       errand change deny <id> --actor e-mail --reason "..." [--step <step id>]
       errand change cancel <id> --actor e-mail --reason "..."
       errand change publish-due
       errand change freeze add --from <ISO time> --to <ISO time> --reason "..." --actor e-mail
       errand change freeze list [--all]
       errand change freeze remove <id> --actor e-mail [--reason "..."]
`;

const VALUED = new Set(['--reason', '--author', '--actor', '--at', '--rollback', '--step', '--from', '--to']);



const time = (s: string | undefined): Date | undefined => {
  if (!s) return undefined;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) || !/^\d{4}-\d{2}-\d{2}/.test(s) ? undefined : d;
};

export async function runChangeCommand(sub: string | undefined, args: string[], io: ChangeIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const out = (s: string) => { io.stdout.write(s); };
  const err = (s: string) => { io.stderr.write(s); };
  const usage = (problem: string) => { err(`change ${sub ?? ''}: ${problem}\n${USAGE}`); return 2; };
  let config: Config;
  try { config = io.config ?? loadConfig(); } catch (e) { err(`${(e as Error).message}\n`); return 2; }
  const pos = positionals(args, VALUED);
  const extra = await slackOperations(config);
  const withService = async (fn: (s: ChangeService) => Promise<number>): Promise<number> => {
    const run = async (db: Database) => {
      const store = new CatalogueVersionStore(db);
      const service = new ChangeService({ db, store, now: io.now ?? (() => new Date()), extraOperations: () => extra });
      store.useBeforeChange(service.guard);
      return fn(service);
    };
    try {
      return io.db ? await run(io.db) : await withConfiguredDatabase(run, { migrate: true });
    } catch (e) {
      if (e instanceof ChangeError) { err(`change ${sub}: ${e.message}\n`); return 1; }
      throw e;
    }
  };
  const decided = (rs: DecideOutcome[]): number => {
    for (const r of rs) (['approved', 'denied', 'published', 'scheduled'].includes(r.outcome) ? out : err)(`${r.message}\n`);
    return rs.every((r) => ['approved', 'denied', 'published', 'scheduled'].includes(r.outcome)) ? 0 : 1;
  };

  if (sub === 'create') {
    const reason = optionOf(args, 'reason');
    const author = optionOf(args, 'author') ?? optionOf(args, 'actor');
    const rollback = optionOf(args, 'rollback');
    const draft = pos[0];
    if (!reason?.trim()) return usage('--reason "why" is needed');
    if (!author?.trim()) return usage('--author <e-mail> is needed (an admin or catalogue admin)');
    if ((draft === undefined) === (rollback === undefined)) return usage('give the draft to publish, or --rollback <version>');
    const n = Number((draft ?? rollback)!.replace(/^v/, ''));
    if (!Number.isInteger(n) || n < 1) return usage('a version number like 5');
    const atText = optionOf(args, 'at');
    const at = time(atText);
    if (atText !== undefined && !at) return usage('--at takes an ISO time like 2026-12-01T18:00:00Z');
    return withService(async (s) => {
      const r = await s.create({ ...(draft !== undefined ? { draft: n } : { rollbackTo: n }), author, reason, emergency: args.includes('--emergency'), at: at ?? null });
      for (const w of r.warnings) err(`warning: ${w}\n`);
      const c = r.change;
      if (c.status === 'dry-run-failed') {
        err(`${c.ref} (${whatOf(c)}) was NOT submitted for approval: the dry run failed.\n${dryRunLines(c.dryRun)}\nFix the draft (errand catalogue import), then create a new change.\n`);
        return 1;
      }
      out(`${c.ref} created: ${whatOf(c)}${c.emergency ? ' (EMERGENCY)' : ''}${c.scheduledAt ? `, to publish at ${fmtTime(c.scheduledAt)}` : ''}\n`);
      out(`risk: ${c.impact.risk}; dry run ${c.dryRun.summary}\n`);
      out(`waiting for approval:\n${r.approvals.map((a) => `  ${a.label}: ${a.approvers.join(', ')}${a.fallback ? ` (${a.fallback})` : ''}`).join('\n')}\n`);
      out(`the approvers have a card in chat; without chat: errand change approve ${c.ref} --actor <e-mail>\n`);
      return 0;
    });
  }

  if (sub === 'show') {
    if (!pos[0]) return usage('give the change (CHG-000012 or 12)');
    return withService(async (s) => {
      const v = await s.get(pos[0]!);
      if (!v) { err(`change show: there is no change request ${pos[0]}\n`); return 1; }
      if (args.includes('--json')) { out(`${JSON.stringify(v, null, 2)}\n`); return 0; }
      const current = (await s.currentVersion())?.number;
      out(renderChange(v.change, v.approvals, { ...(current !== undefined ? { current } : {}), freezes: await s.listFreezes() }));
      return 0;
    });
  }

  if (sub === 'list') {
    return withService(async (s) => {
      const list = await s.list(args.includes('--all') ? { limit: 200 } : { statuses: ['pending-approval', 'approved'] });
      if (!list.length) out(args.includes('--all') ? 'no change requests yet\n' : 'no open change requests (--all lists every one)\n');
      for (const c of list) {
        out(`${c.ref}  ${c.status.padEnd(16)} ${fmtTime(c.createdAt).padEnd(20)} ${c.author.slice(0, 28).padEnd(28)} ${whatOf(c)}${c.emergency ? ' EMERGENCY' : ''}${c.scheduledAt ? ` at ${fmtTime(c.scheduledAt)}` : ''}: ${c.reason}\n`);
      }
      const freezes = await s.listFreezes();
      if (freezes.length) out(`freeze windows:\n${freezes.map((f) => `  #${f.id} ${fmtTime(f.startsAt)} – ${fmtTime(f.endsAt)}: ${f.reason} (${f.createdBy})`).join('\n')}\n`);
      return 0;
    });
  }

  if (sub === 'approve' || sub === 'deny') {
    const actor = optionOf(args, 'actor');
    if (!pos[0]) return usage('give the change (CHG-000012 or 12)');
    if (!actor) return usage('--actor <e-mail> is needed');
    const reason = optionOf(args, 'reason');
    if (sub === 'deny' && !reason?.trim()) return usage('--reason "why" is needed to deny');
    return withService(async (s) => decided(await s.decideChange(pos[0]!, actor, sub, reason ?? null, optionOf(args, 'step'))));
  }

  if (sub === 'cancel') {
    const actor = optionOf(args, 'actor');
    const reason = optionOf(args, 'reason');
    if (!pos[0] || !actor || !reason?.trim()) return usage('give the change, --actor <e-mail> and --reason "why"');
    return withService(async (s) => {
      const c = await s.cancel(pos[0]!, actor, reason);
      out(`${c.ref} cancelled${c.kind === 'publish' ? ` (draft v${c.draftVersion} is kept)` : ''}\n`);
      return 0;
    });
  }

  if (sub === 'publish-due') {
    return withService(async (s) => {
      const n = await s.publishDue();
      out(`${n} change(s) published\n`);
      return 0;
    });
  }

  if (sub === 'freeze') {
    const [verb, id] = pos;
    if (verb === 'list') {
      return withService(async (s) => {
        const list = await s.listFreezes({ all: args.includes('--all') });
        if (!list.length) out('no freeze windows\n');
        for (const f of list) out(`#${f.id}  ${fmtTime(f.startsAt)} – ${fmtTime(f.endsAt)}  ${f.reason}  (by ${f.createdBy}${f.removedAt ? `; removed by ${f.removedBy} at ${fmtTime(f.removedAt)}${f.removedReason ? `: ${f.removedReason}` : ''}` : ''})\n`);
        return 0;
      });
    }
    if (verb === 'add') {
      const from = time(optionOf(args, 'from'));
      const to = time(optionOf(args, 'to'));
      const reason = optionOf(args, 'reason');
      const actor = optionOf(args, 'actor') ?? optionOf(args, 'author');
      if (!from || !to) return usage('--from and --to take ISO times like 2026-12-20T00:00:00Z');
      if (!reason?.trim() || !actor) return usage('--reason "why" and --actor <e-mail> are needed');
      return withService(async (s) => {
        const r = await s.addFreeze({ from, to, reason, actor });
        out(`freeze #${r.freeze.id} added: ${fmtTime(r.freeze.startsAt)} – ${fmtTime(r.freeze.endsAt)}: ${r.freeze.reason}\n`);
        for (const c of r.affected) err(`warning: ${c.ref} is scheduled inside it (${fmtTime(c.scheduledAt)}) and will be refused then\n`);
        return 0;
      });
    }
    if (verb === 'remove') {
      const actor = optionOf(args, 'actor');
      if (!id || !/^\d+$/.test(id.replace(/^#/, '')) || !actor) return usage('give the freeze number and --actor <e-mail>');
      return withService(async (s) => {
        const f = await s.removeFreeze(Number(id.replace(/^#/, '')), actor, optionOf(args, 'reason'));
        out(`freeze #${f.id} removed\n`);
        return 0;
      });
    }
    return usage('freeze add | list | remove');
  }

  err(USAGE);
  return sub === undefined || sub === 'help' ? 0 : 2;
}
