/**
 * `errand catalogue ...`: validation of the dialogs/ folder and the catalogue version lifecycle, on
 * the configured database (DATABASE_URL, else the embedded PGlite: stop the server first).
 *
 *   catalogue validate [dir]                         check every dialogs/*.yaml; exit 1 with the errors
 *   catalogue versions                               number, status, author, time, reason, items
 *   catalogue diff <a> <b> [--json]                  a, b: version numbers, `current`, or `folder` (the working dialogs/)
 *   catalogue export <version> [--out dir]           the version in the folder layout (dir/dialogs, dir/intents)
 *   catalogue import [dir] --reason "..." [--author e]   validate, then store as a DRAFT (nothing stored on error)
 *   catalogue publish <draft> --reason "..." [--author e] [--expect-current n]
 *   catalogue rollback <version> --reason "..." --author e [--expect-current n]
 *   catalogue discard <draft> --reason "..." [--author e]
 *
 * Running services pick up a newly current version within CATALOGUE_REFRESH (10 s); connectors,
 * governance and alert changes apply when they restart. Exit 2 on bad arguments, 1 when refused.
 */
import { userInfo } from 'node:os';
import path from 'node:path';
import { checkCatalogueDir, formatCatalogueErrors, type CatalogueError } from '../catalogue/loader.js';
import { loadConfig, PROJECT_ROOT, type Config } from '../config.js';
import type { Database } from '../db/database.js';
import { diffCatalogues, renderDiff, type DiffSide } from '../catalogue/versions/diff.js';
import { contentHash, layoutPaths, pathsFromConfig, writeSnapshot, type FolderPaths } from '../catalogue/versions/snapshot.js';
import { CatalogueVersionError, CatalogueVersionStore, type VersionSummary } from '../catalogue/versions/store.js';
import { readAndValidate, runbookIssues } from '../catalogue/versions/validate.js';
import { optionOf, withConfiguredDatabase, positionals, slackOperations } from './with-database.js';

export interface CatalogueIo { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; db?: Database; config?: Config }

const USAGE = `usage: errand catalogue validate [dir]
       errand catalogue versions
       errand catalogue diff <a> <b> [--json]            (a, b: version number, current, or folder)
       errand catalogue export <version> [--out dir]
       errand catalogue import [dir] --reason "..." [--author e-mail]
       errand catalogue publish <draft> --reason "..." [--author e-mail] [--expect-current n]
       errand catalogue rollback <version> --reason "..." --author e-mail [--expect-current n]
       errand catalogue discard <draft> --reason "..." [--author e-mail]
`;

const VALUED = new Set(['--reason', '--author', '--out', '--expect-current']);


const defaultAuthor = () => `cli:${userInfo().username}`;
const fmtTime = (d: Date | null) => (d ? d.toISOString().slice(0, 16).replace('T', ' ') : '');

function describe(v: VersionSummary): string {
  return `v${v.number} (${v.status}, ${v.itemCount} items, by ${v.publishedBy ?? v.author} at ${fmtTime(v.publishedAt ?? v.createdAt)} UTC: ${v.publishReason ?? v.reason})`;
}


function errorLines(errors: CatalogueError[]): string {
  return formatCatalogueErrors(errors);
}

export async function runCatalogueCommand(sub: string | undefined, args: string[], io: CatalogueIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const out = (s: string) => { io.stdout.write(s); };
  const err = (s: string) => { io.stderr.write(s); };
  const usage = (problem: string) => { err(`catalogue ${sub ?? ''}: ${problem}\n${USAGE}`); return 2; };
  let config: Config;
  try { config = io.config ?? loadConfig(); } catch (e) { err(`${(e as Error).message}\n`); return 2; }
  const pos = positionals(args, VALUED);
  const withDb = async (fn: (db: Database, store: CatalogueVersionStore) => Promise<number>): Promise<number> => {
    const run = (db: Database) => fn(db, new CatalogueVersionStore(db));
    try {
      return io.db ? await run(io.db) : await withConfiguredDatabase(run, { migrate: true });
    } catch (e) {
      if (e instanceof CatalogueVersionError) { err(`catalogue ${sub}: ${e.message}\n`); return 1; }
      throw e;
    }
  };
  const versionArg = (s: string | undefined): number | 'current' | undefined => (s === 'current' ? 'current' : s && /^v?\d+$/.test(s) ? Number(s.replace(/^v/, '')) : undefined);

  if (sub === 'validate') {
    const dir = path.resolve(pos[0] ?? path.join(PROJECT_ROOT, 'dialogs'));
    const { loadConnectors } = await import('../fulfilment/connectors/registry.js');
    const { createSecretResolver } = await import('../fulfilment/connectors/secrets.js');
    let ops = new Set<string>();
    try {
      const set = await loadConnectors(path.join(dir, '_connectors.yaml'), createSecretResolver({ env: config.connectors.secretEnv, ...(config.connectors.vault ? { vault: config.connectors.vault } : {}) }));
      ops = set.operations;
      for (const c of set.connectors) await c.close?.().catch(() => undefined);
    } catch (e) {
      err(`connectors invalid: ${(e as Error).message}\n`);
      return 1;
    }
    for (const op of await slackOperations(config)) ops.add(op);
    const { items, errors } = await checkCatalogueDir(dir, ops);
    for (const item of items) errors.push(...runbookIssues(item).map((i) => ({ file: `${item.id}.yaml`, ...i })));
    if (errors.length) {
      err(`catalogue invalid: ${errors.length} problem(s)\n${errorLines(errors)}\n`);
      return 1;
    }
    out(`catalogue ok: ${items.length} items (${items.map((i) => i.id).join(', ')})\n`);
    return 0;
  }

  if (sub === 'versions') {
    return withDb(async (_db, store) => {
      const list = await store.list({ limit: 200 });
      if (!list.length) { out('no catalogue versions yet (the service imports dialogs/ as version 1 when it first starts, or: errand catalogue import --reason "...")\n'); return 0; }
      out(`${'  version'.padEnd(10)} ${'status'.padEnd(11)} ${'time (UTC)'.padEnd(16)} ${'author'.padEnd(28)} items  reason\n`);
      for (const v of list) {
        const who = v.status === 'draft' || v.status === 'discarded' ? v.author : v.publishedBy ?? v.author;
        const note = [v.rollbackOf ? `rollback to v${v.rollbackOf}` : '', v.basedOn && v.status === 'draft' ? `based on v${v.basedOn}` : '', v.endedReason && v.status !== 'superseded' ? `${v.status}: ${v.endedReason}` : ''].filter(Boolean).join('; ');
        out(`${v.status === 'published' ? '*' : ' '} ${`v${v.number}`.padEnd(8)} ${v.status.padEnd(11)} ${fmtTime(v.publishedAt ?? v.createdAt).padEnd(16)} ${who.slice(0, 28).padEnd(28)} ${String(v.itemCount).padStart(5)}  ${v.publishReason ?? v.reason}${note ? `  (${note})` : ''}\n`);
      }
      return 0;
    });
  }

  if (sub === 'diff') {
    const [a, b] = pos;
    if (!a || !b) return usage('give two versions: numbers, current, or folder');
    const side = async (s: string, store: () => Promise<CatalogueVersionStore>): Promise<DiffSide | number> => {
      if (s === 'folder') {
        const r = await readAndValidate(pathsFromConfig(config), { extraOperations: await slackOperations(config), lenientAlerts: true });
        if (!r.documents) { err(`the folder is not a valid catalogue (${r.errors.length} problem(s)):\n${errorLines(r.errors)}\n`); return 1; }
        return { label: 'folder', documents: r.documents, files: r.snapshot.files, model: r.snapshot.model };
      }
      const n = versionArg(s);
      if (n === undefined) { usage(`"${s}" is not a version number, current or folder`); return 2; }
      const st = await store();
      const v = n === 'current' ? await st.current() : await st.get(n);
      if (!v) { err(`catalogue diff: there is no ${n === 'current' ? 'current version' : `version ${n}`}\n`); return 1; }
      return { label: `v${v.number}`, documents: v.documents, files: v.files, model: v.model };
    };
    const needsDb = a !== 'folder' || b !== 'folder';
    const run = async (store: () => Promise<CatalogueVersionStore>) => {
      const sa = await side(a, store);
      if (typeof sa === 'number') return sa;
      const sb = await side(b, store);
      if (typeof sb === 'number') return sb;
      const d = diffCatalogues(sa, sb);
      out(args.includes('--json') ? `${JSON.stringify(d, null, 2)}\n` : renderDiff(d));
      return 0;
    };
    return needsDb ? withDb((_db, store) => run(async () => store)) : run(async () => { throw new Error('no database needed'); });
  }

  if (sub === 'export') {
    const n = versionArg(pos[0]);
    if (n === undefined) return usage('give the version to export (a number, or current)');
    return withDb(async (_db, store) => {
      const v = n === 'current' ? await store.current() : await store.get(n);
      if (!v) { err(`catalogue export: there is no ${n === 'current' ? 'current version' : `version ${n}`}\n`); return 1; }
      const dir = path.resolve(optionOf(args, 'out') ?? `catalogue-v${v.number}`);
      const w = await writeSnapshot({ files: v.files, model: v.model }, dir);
      out(`exported ${describe(v)} to ${dir}: ${w.written.length} file(s)${w.removed.length ? `, removed ${w.removed.length} not in the version (${w.removed.join(', ')})` : ''}\n`);
      out(`content hash ${v.contentHash}${v.model ? `; made with model ${v.model.path} (sha256 ${v.model.sha256.slice(0, 12)}…)` : ''}\n`);
      return 0;
    });
  }

  if (sub === 'import') {
    const reason = optionOf(args, 'reason');
    if (!reason?.trim()) return usage('--reason "why" is needed');
    const author = optionOf(args, 'author') ?? defaultAuthor();
    const paths: FolderPaths = pos[0] ? await layoutPaths(path.resolve(pos[0]), config.modelFile) : pathsFromConfig(config);
    const r = await readAndValidate(paths, { extraOperations: await slackOperations(config) });
    for (const w of r.warnings) err(`warning: ${w}\n`);
    if (!r.documents) {
      err(`catalogue import: nothing stored, ${r.errors.length} problem(s):\n${errorLines(r.errors)}\n`);
      return 1;
    }
    const documents = r.documents;
    return withDb(async (_db, store) => {
      const cur = await store.current();
      const hash = contentHash(r.snapshot);
      if (cur?.contentHash === hash) { out(`nothing to import: ${paths.dialogsDir} is identical to the current version v${cur.number} (content hash ${hash.slice(0, 12)}…)\n`); return 0; }
      const v = await store.createDraft(r.snapshot, documents, { author, reason });
      out(`draft v${v.number} created from ${paths.dialogsDir} (${v.itemCount} items, content hash ${v.contentHash.slice(0, 12)}…)${cur ? `, based on v${cur.number}` : ''}\n`);
      if (cur) out(renderDiff(diffCatalogues({ label: `v${cur.number}`, documents: cur.documents, files: cur.files, model: cur.model }, { label: `v${v.number}`, documents, files: r.snapshot.files, model: r.snapshot.model })));
      out(`publish it with: errand catalogue publish ${v.number} --reason "..."\n`);
      return 0;
    });
  }

  if (sub === 'publish' || sub === 'rollback') {
    const n = versionArg(pos[0]);
    if (typeof n !== 'number') return usage(`give the version to ${sub === 'publish' ? 'publish (a draft)' : 'roll back to'}`);
    const reason = optionOf(args, 'reason');
    if (!reason?.trim()) return usage('--reason "why" is needed');
    const givenAuthor = optionOf(args, 'author');
    if (sub === 'rollback' && !givenAuthor?.trim()) return usage('--author <e-mail> is needed');
    const expect = optionOf(args, 'expect-current');
    if (expect !== undefined && !/^\d+$/.test(expect)) return usage('--expect-current takes a version number');
    const meta = { author: givenAuthor ?? defaultAuthor(), reason, ...(expect !== undefined ? { expectedCurrent: Number(expect) } : {}) };
    return withDb(async (_db, store) => {
      const res = sub === 'publish' ? await store.publish(n, meta) : await store.rollback(n, meta);
      out(`${sub === 'publish' ? 'published' : `rolled back to v${n} as`} ${describe(res.version)}${res.previous ? `; v${res.previous.number} is now ${res.previous.status}` : ''}\n`);
      if (res.diff) out(renderDiff(res.diff));
      if (res.restartNeeded.length) out(`note: ${res.restartNeeded.join(', ')} changed: running services apply these after a restart (items apply within seconds)\n`);
      return 0;
    });
  }

  if (sub === 'discard') {
    const n = versionArg(pos[0]);
    if (typeof n !== 'number') return usage('give the draft to discard');
    const reason = optionOf(args, 'reason');
    if (!reason?.trim()) return usage('--reason "why" is needed');
    return withDb(async (_db, store) => {
      const v = await store.discard(n, { author: optionOf(args, 'author') ?? defaultAuthor(), reason });
      out(`discarded draft v${v.number}\n`);
      return 0;
    });
  }

  err(USAGE);
  return sub === undefined || sub === 'help' ? 0 : 2;
}
