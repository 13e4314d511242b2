/**
 * The catalogue lifecycle on the command line (src/catalogue/lifecycle/), on the configured database
 * (DATABASE_URL, else the embedded PGlite: stop the server first).
 *
 *   catalogue usage [--item id] [--json]
 *   catalogue deprecate <item> --until <date> [--alternative <item>] --reason "..." --actor <e-mail>
 *   catalogue deprecations [--status active|removed|cancelled] [--json]
 *   catalogue undeprecate <item> --reason "..." --actor <e-mail>
 *   catalogue remove-due [--retry]            removes items whose notice period passed (what the hourly job does);
 *                                             --retry: also those whose removal change request was denied
 *   org reassign --from-team <a> --to-team <b> [--owner-contact <e>] [--from-group g --to-group h]
 *                [--from-role r --to-role s] [--from-person x --to-person y] [--from-department d --to-department e]
 *                [--items a,b] [--reason "..."] [--actor e] [--expect-current n] [--dry-run]
 *   org reroute-approvals [--dry-run] [--actor e]
 *
 * `deprecate` needs an admin or catalogue admin as --actor. `org` commands check --actor the same way
 * when it is given; without it they act as `cli:<user>` (an operator with database access, like
 * `errand catalogue publish`). Exit 2 on bad arguments, 1 when refused.
 */
import { userInfo } from 'node:os';
import { loadConfig, type Config } from '../config.js';
import type { Database } from '../db/database.js';
import { catalogueOfVersion } from '../catalogue/versions/live.js';
import { CatalogueVersionStore } from '../catalogue/versions/store.js';
import { validateSnapshot } from '../catalogue/versions/validate.js';
import type { CatalogueSnapshot } from '../catalogue/versions/snapshot.js';
import { createLifecycle, describeReroute, LifecycleError, renderUsage, type Lifecycle, type OrgChange } from '../catalogue/lifecycle/index.js';
import { parseInstant } from '../reporting/period.js';
import { optionOf, withConfiguredDatabase, positionals, slackOperations } from './with-database.js';

export interface LifecycleIo { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; db?: Database; config?: Config; now?: () => Date }

const USAGE = `usage: errand catalogue usage [--item id] [--json]
       errand catalogue deprecate <item> --until <date> [--alternative <item>] --reason "..." --actor <e-mail>
       errand catalogue deprecations [--status active|removed|cancelled] [--json]
       errand catalogue undeprecate <item> --reason "..." --actor <e-mail>
       errand catalogue remove-due [--retry]
       errand org reassign --from-team <a> --to-team <b> [--owner-contact <e-mail>] [--from-group g --to-group h]
                [--from-role r --to-role s] [--from-person x --to-person y] [--from-department d --to-department e]
                [--items a,b] [--reason "..."] [--actor e-mail] [--expect-current n] [--dry-run]
       errand org reroute-approvals [--dry-run] [--actor e-mail]
`;

const VALUED = new Set(['--item', '--until', '--alternative', '--reason', '--actor', '--status', '--from-team', '--to-team', '--owner-contact', '--from-group', '--to-group',
  '--from-role', '--to-role', '--from-person', '--to-person', '--from-department', '--to-department', '--items', '--expect-current']);



export const LIFECYCLE_SUBCOMMANDS = ['usage', 'deprecate', 'deprecations', 'undeprecate', 'remove-due'];

/** `errand catalogue <usage|deprecate|...>` and `errand org <reassign|reroute-approvals>`. */
export async function runLifecycleCommand(group: 'catalogue' | 'org', sub: string | undefined, args: string[], io: LifecycleIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const out = (s: string) => { io.stdout.write(s); };
  const err = (s: string) => { io.stderr.write(s); };
  const usage = (problem: string) => { err(`${group} ${sub ?? ''}: ${problem}\n${USAGE}`); return 2; };
  let config: Config;
  try { config = io.config ?? loadConfig(); } catch (e) { err(`${(e as Error).message}\n`); return 2; }
  const opt = (name: string) => optionOf(args, name);
  const json = args.includes('--json');
  const pos = positionals(args, VALUED);

  const withLifecycle = async (fn: (l: Lifecycle, db: Database) => Promise<number>): Promise<number> => {
    const run = async (db: Database) => {
      const store = new CatalogueVersionStore(db);
      const current = await store.current();
      if (!current) { err('there is no catalogue version yet: start the service once (it imports dialogs/ as version 1)\n'); return 1; }
      const { loadCompatibility } = await import('../requests/checks/compatibility.js');
      const { validateCheckReferences } = await import('../requests/checks/validate.js');
      const tables = await loadCompatibility(config.checks.compatibilityFile);
      const extra = await slackOperations(config);
      const cat = catalogueOfVersion(current);
      const l = createLifecycle({
        db, store, now: io.now ?? (() => new Date()), extraOperations: () => extra,
        catalogue: () => cat,
        validate: (s: CatalogueSnapshot) => validateSnapshot(s, { extraOperations: extra, lenientAlerts: true, checkItems: (items) => validateCheckReferences(items, tables, config.checks.compatibilityFile) }),
      });
      return fn(l, db);
    };
    try {
      return io.db ? await run(io.db) : await withConfiguredDatabase(run, { migrate: true });
    } catch (e) {
      if (e instanceof LifecycleError) { err(`${group} ${sub}: ${e.message}\n`); return 1; }
      throw e;
    }
  };

  if (group === 'catalogue' && sub === 'usage') {
    return withLifecycle(async (l) => {
      const item = opt('item');
      const r = await l.usage(item ? { item } : {});
      if (item && !r.items.length) { err(`catalogue usage: no catalogue item or requests "${item}"\n`); return 1; }
      out(json ? `${JSON.stringify(r, null, 2)}\n` : renderUsage(r));
      return 0;
    });
  }

  if (group === 'catalogue' && sub === 'deprecate') {
    const item = pos[0];
    if (!item) return usage('give the item to deprecate');
    const untilText = opt('until');
    const until = untilText ? parseInstant(untilText) : undefined;
    if (!until) return usage('--until <date> (YYYY-MM-DD, or an ISO date-time) is needed');
    const reason = opt('reason');
    if (!reason?.trim()) return usage('--reason "why" is needed');
    const actor = opt('actor');
    if (!actor?.trim()) return usage('--actor <e-mail> (an admin or catalogue admin) is needed');
    return withLifecycle(async (l) => {
      const r = await l.deprecations.deprecate({ item, until, alternative: opt('alternative') ?? null, reason, actor });
      const d = r.deprecation;
      out(`deprecated ${d.itemId} (#${d.id}): hidden from intake now, removed on ${d.until.toISOString().slice(0, 10)}${d.alternative ? `; requests go to ${d.alternative}` : '; requests go to triage'}\n`);
      out(`told ${r.notified.length} people: ${['owner', 'requester', 'approver'].map((as) => `${r.notified.filter((n) => n.as === as).length} ${as}(s)`).join(', ')}; ${r.openRequests} open request(s) finish normally\n`);
      return 0;
    });
  }

  if (group === 'catalogue' && sub === 'deprecations') {
    const status = opt('status');
    if (status && !['active', 'removed', 'cancelled'].includes(status)) return usage('--status is active, removed or cancelled');
    return withLifecycle(async (l) => {
      const list = await l.deprecations.list(status ? { statuses: [status as 'active'] } : {});
      if (json) { out(`${JSON.stringify(list, null, 2)}\n`); return 0; }
      if (!list.length) { out('no deprecations\n'); return 0; }
      for (const d of list) {
        const state = d.status === 'removed' ? `removed in v${d.removedVersion}` : d.status === 'cancelled' ? `cancelled by ${d.endedBy}: ${d.endedReason}` : `active${d.removalDraft ? `, removal draft v${d.removalDraft} waits for change control` : ''}${d.lastError ? ` (last attempt: ${d.lastError.split('\n')[0]})` : ''}`;
        out(`#${d.id} ${d.itemId} until ${d.until.toISOString().slice(0, 10)}${d.alternative ? ` → ${d.alternative}` : ''} by ${d.createdBy}: ${d.reason} [${state}]\n`);
      }
      return 0;
    });
  }

  if (group === 'catalogue' && sub === 'undeprecate') {
    const item = pos[0];
    if (!item) return usage('give the item whose deprecation to cancel');
    const reason = opt('reason');
    const actor = opt('actor');
    if (!reason?.trim() || !actor?.trim()) return usage('--reason "why" and --actor <e-mail> are needed');
    return withLifecycle(async (l) => {
      const d = await l.deprecations.cancel({ item, actor, reason });
      out(`deprecation #${d.id} of ${d.itemId} cancelled: the item is offered again\n`);
      return 0;
    });
  }

  if (group === 'catalogue' && sub === 'remove-due') {
    return withLifecycle(async (l) => {
      const res = await l.removeDue({ retry: args.includes('--retry') });
      if (!res.length) out('no deprecation is due\n');
      for (const r of res) {
        const what = r.outcome === 'removed' ? `removed in v${r.version}` : r.outcome === 'already-removed' ? `not in v${r.version} any more`
          : r.outcome === 'awaiting-change-control' ? `draft v${r.draft} waits for change control: ${r.message}` : r.outcome === 'refused' ? `draft v${r.draft} was not published: ${r.message}` : `failed: ${r.message}`;
        out(`#${r.id} ${r.item}: ${what}\n`);
      }
      if (res.some((r) => r.outcome === 'removed')) out('run `errand train` so the intent model no longer knows the removed item(s)\n');
      return res.some((r) => r.outcome === 'failed' || r.outcome === 'refused') ? 1 : 0;
    });
  }

  if (group === 'org' && sub === 'reassign') {
    const change: OrgChange = {};
    for (const k of ['fromTeam', 'toTeam', 'ownerContact', 'fromGroup', 'toGroup', 'fromRole', 'toRole', 'fromPerson', 'toPerson', 'fromDepartment', 'toDepartment'] as const) {
      const v = opt(k.replace(/[A-Z]/g, (m) => `-${m.toLowerCase()}`));
      if (v !== undefined) change[k] = v;
    }
    const items = opt('items');
    if (items) change.items = items.split(',').map((x) => x.trim()).filter(Boolean);
    const expect = opt('expect-current');
    if (expect !== undefined && !/^\d+$/.test(expect)) return usage('--expect-current takes a version number');
    const actor = opt('actor');
    const reason = opt('reason');
    const dryRun = args.includes('--dry-run');
    return withLifecycle(async (l) => {
      const r = await l.org.reassign(change, {
        actor: actor ?? `cli:${userInfo().username}`, trusted: !actor, dryRun, ...(reason ? { reason } : {}), ...(expect !== undefined ? { expectedCurrent: Number(expect) } : {}),
      });
      out(`${dryRun ? 'preview (nothing stored)' : 'change'} on catalogue version ${r.base}: ${r.changes.length} edit(s) in ${new Set(r.changes.map((c) => c.item)).size} item(s)\n`);
      for (const c of r.changes) out(`  ${c.item}: ${c.path} ${JSON.stringify(c.from)} → ${JSON.stringify(c.to)}\n`);
      for (const w of r.warnings) out(`warning: ${w}\n`);
      out(r.text);
      if ('draft' in r) {
        out(r.outcome === 'published' ? `published as v${r.version} (draft v${r.draft})\n`
          : r.outcome === 'change-request' ? `draft v${r.draft} created; change control: ${r.message} (errand change show ${r.change})\n` : `draft v${r.draft} created; not published: ${r.message}\n`);
      } else {
        out(`apply it with the same command without --dry-run${actor ? '' : ' (add --actor <e-mail> to record who)'}; add --expect-current ${r.base} to refuse it if the catalogue changes meanwhile\n`);
      }
      return 0;
    });
  }

  if (group === 'org' && sub === 'reroute-approvals') {
    const actor = opt('actor');
    const dryRun = args.includes('--dry-run');
    return withLifecycle(async (l) => {
      const res = await l.rerouteApprovals({ dryRun, actor: actor ?? `cli:${userInfo().username}`, trusted: !actor });
      if (!res.length) out('no open approval waits for someone who left\n');
      for (const r of res) out(`${describeReroute(r)}\n`);
      return res.some((r) => r.outcome === 'unroutable') ? 1 : 0;
    });
  }

  err(USAGE);
  return sub === undefined || sub === 'help' ? 0 : 2;
}
