/**
 * `errand <command>`: catalogue (validate | versions | diff | export | import | publish | rollback | discard) | train | classify | ... Each command returns an exit code.
 */
import path from 'node:path';
import { loadConfig } from '../config.js';
import { optionOf, withConfiguredDatabase } from './with-database.js';

const ROOT = path.resolve(new URL('../..', import.meta.url).pathname);

const USAGE = `usage: errand <command>
  catalogue validate [dir]     check every dialogs/*.yaml file; exit 1 with the errors
  catalogue versions | diff <a> <b> | export <v> [--out dir] | import [dir] --reason ... | publish <draft> --reason ...
            | rollback <v> --reason ... --author e | discard <draft> --reason ...
                               catalogue versions: list, compare (numbers, current, folder), export/import as
                               dialogs/ + intents/ folders, publish a draft, roll back (a new version), discard
  catalogue usage [--item id] | deprecate <item> --until <date> [--alternative <item>] --reason ... --actor e
            | deprecations | undeprecate <item> --reason ... --actor e | remove-due
                               decommissioning: usage per item (12 months), deprecate (hidden from intake
                               now, removed in a new version after the date), list, cancel, remove now
  org reassign --from-team <a> --to-team <b> [--owner-contact e] [--from-group|role|person|department ...] [--dry-run]
  org reroute-approvals [--dry-run]
                               organisational changes: owners/approvers in a new version (preview = diff);
                               open approvals of leavers re-routed to their manager (or the item owner)
  train                        train the intent model from intents/ into models/
  classify "text"              print the ranked catalogue items with confidences
  classify --jsonl             one message per line on stdin -> one JSON result per line
  feedback review [--accept ids|all] [--reject ids] [--reviewer e-mail]
                               triage labels waiting for review before "train --with-feedback"
  report compliance --from <date> --to <date> [--item id] [--format json|csv]
                               requests with approvals, actions and grants (audit evidence)
  report service-review (--period YYYY-MM | --from <date> --to <date>) [--item id] [--format md|csv|json]
  report nlu (--period YYYY-MM | --from <date> --to <date>) [--by day|week] [--format md|json]
                               volume, automation, classification, SLA, satisfaction, failure causes per item
  teams package --app-id <GUID> --host <host> [--out file.zip]
                               the Teams app package (manifest + icons) to upload
  audit verify                 check the audit log's hash chain; exit 1 listing edited or deleted rows
  admin add-user --email <e-mail> [--password-stdin] | admin list-users | admin remove-user --email <e-mail>
                               local accounts of the admin dashboard (/admin)
`;

export async function runCli(argv: string[]): Promise<number> {
  const [cmd, sub, ...rest] = argv;
  if (cmd === 'catalogue' && ['usage', 'deprecate', 'deprecations', 'undeprecate', 'remove-due'].includes(sub ?? '')) return (await import('./lifecycle-commands.js')).runLifecycleCommand('catalogue', sub, rest);
  if (cmd === 'org') return (await import('./lifecycle-commands.js')).runLifecycleCommand('org', sub, rest);
  if (cmd === 'catalogue') return (await import('./catalogue-commands.js')).runCatalogueCommand(sub, rest);
  if (cmd === 'teams' && sub === 'package') {
    const { packageTeamsApp } = await import('./teams-package.js');
    const opt = (name: string) => optionOf(rest, name);
    try {
      const { file, bytes } = await packageTeamsApp({ root: ROOT, appId: opt('app-id') ?? loadConfig().teams?.appId, host: opt('host'), out: opt('out') });
      process.stdout.write(`Teams app package written: ${file} (${bytes} bytes). Upload it in Teams → Apps → Manage your apps → Upload an app.\n`);
      return 0;
    } catch (e) {
      process.stderr.write(`teams package: ${(e as Error).message}\n`);
      return 1;
    }
  }
  if (cmd === 'audit' && sub === 'verify') {
    const { runAuditCommand } = await import('./audit-commands.js');
    return runAuditCommand(sub, rest);
  }
  if (cmd === 'feedback' && sub === 'review') {
    const opt = (name: string) => optionOf(rest, name);
    const { pendingLabels, reviewLabels } = await import('../nlu/feedback.js');
    return withConfiguredDatabase(async (db) => {
      for (const [flag, decision] of [['accept', 'accepted'], ['reject', 'rejected']] as const) {
        const v = opt(flag);
        if (v === undefined) continue;
        const reviewer = opt('reviewer');
        if (!reviewer) { process.stderr.write('feedback review: --reviewer <e-mail> is needed with --accept/--reject\n'); return 2; }
        const ids = v === 'all' ? 'all' : v.split(',').map((x) => Number(x.trim())).filter((n) => Number.isInteger(n) && n > 0);
        process.stdout.write(`${await reviewLabels(db, ids, decision, reviewer)} label(s) ${decision}\n`);
      }
      const pending = await pendingLabels(db);
      process.stdout.write(pending.length ? `${pending.length} label(s) waiting for review:\n${pending.map((l) => `  #${l.id}  ${l.intent.padEnd(20)} "${l.text}"  (${l.source}, ${l.labelledBy ?? '?'})`).join('\n')}\n` : 'no labels waiting for review\n');
      return 0;
    }, { migrate: true });
  }
  if (cmd === 'change') return (await import('./change-commands.js')).runChangeCommand(sub, rest);
  if (cmd === 'admin') return (await import('./admin-commands.js')).runAdminCommand(sub, rest);
  if (cmd === 'licence') return (await import('./licence-commands.js')).runLicenceCommand(sub, rest);
  if (cmd === 'report' && (sub === 'service-review' || sub === 'nlu')) return (await import('./report-commands.js')).runReportCommand(sub, rest);
  if (cmd === 'report' && sub === 'compliance') {
    const opt = (name: string) => optionOf(rest, name);
    const from = new Date(opt('from') ?? ''), to = new Date(opt('to') ?? '');
    const format = opt('format') ?? 'json';
    if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime()) || !['json', 'csv'].includes(format)) {
      process.stderr.write('usage: errand report compliance --from <ISO date> --to <ISO date> [--item <id>] [--format json|csv]\n');
      return 2;
    }
    const { complianceReport, toCsv } = await import('../governance/compliance-report.js');
    return withConfiguredDatabase(async (db) => {
      const rows = await complianceReport(db, { from, to, ...(opt('item') ? { item: opt('item') } : {}) });
      process.stdout.write(format === 'csv' ? toCsv(rows) : `${JSON.stringify(rows, null, 2)}\n`);
      return 0;
    });
  }
  if (cmd === 'train' || cmd === 'classify') {
    const { runNluCommand } = await import('./nlu-commands.js');
    return runNluCommand(cmd, argv.slice(1), ROOT);
  }
  process.stderr.write(USAGE);
  return cmd === undefined || cmd === 'help' || cmd === '--help' ? 0 : 2;
}
