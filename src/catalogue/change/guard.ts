/**
 * Change control inside the version store's publish transaction (StoreOptions.beforeChange): the
 * one place that decides whether the current catalogue version may move, so every path — the
 * service after the last approval or at the scheduled time, `errand catalogue publish|rollback`,
 * POST /admin/api/catalogue/rollback, another instance, CATALOGUE_SOURCE=folder at start-up — goes
 * through it. Stores built without a beforeChange of their own (the CLI's) get it by default
 * (store.ts), with the real clock; the app installs it with its own clock.
 *
 * On a database where change control is on (change_control; the service turns it on at start-up):
 *  - publish of draft n / rollback to n: an APPROVED change request for exactly that (a rollback:
 *    that target from the current version) must exist, assessed against the version that is
 *    current now, due (its scheduled time reached), and outside every freeze window unless it is an
 *    emergency change (which an admin approved). It is marked `published` in the same transaction.
 *  - CATALOGUE_SOURCE=folder (development only; config refuses it in production): recorded as an
 *    auto-approved change with an audit note (`change.auto-approved`); freeze windows still apply.
 *  - backout: a rollback to the version the current one replaced, by an admin or catalogue admin, is
 *    pre-approved (the latest change's backout plan) and allowed even inside a freeze; recorded as a
 *    published rollback change, audited `change.backout`. Rollbacks further back need a change request.
 * Anything else is refused with a CatalogueVersionError('CHANGE_CONTROL') that says what to do.
 */
import { audit } from '../../audit/audit.repository.js';
import { findPerson } from '../../directory/directory.repository.js';
import { postMessage } from '../../conversation/outbox.repository.js';
import type { Queryable } from '../../db/database.js';
import { CatalogueVersionError, type PendingChange } from '../versions/store.js';
import { changesFor, freezeAt, insertChange, isArmed, moveChange } from './repository.js';
import type { ChangeRequest, Freeze } from './model.js';

const fmt = (d: Date) => `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
export const describeFreeze = (f: Freeze) => `freeze #${f.id} (${fmt(f.startsAt)} – ${fmt(f.endsAt)}: ${f.reason})`;

function refuse(message: string): never {
  throw new CatalogueVersionError('CHANGE_CONTROL', message);
}

export type Guard = (tx: Queryable, change: PendingChange) => Promise<void>;

/** The change-control hook with the clock `now`. */
export function changeControlGuard(o: { now: () => Date }): Guard {
  return async (tx, p) => {
    if (!(await isArmed(tx))) return;
    const now = o.now();
    const freeze = await freezeAt(tx, now);

    if (p.action === 'publish-snapshot') {
      if (freeze) refuse(`CATALOGUE_SOURCE=folder cannot publish dialogs/ inside ${describeFreeze(freeze)}; start with CATALOGUE_SOURCE=database until it ends`);
      const note = 'CATALOGUE_SOURCE=folder (development only): the changed dialogs/ folder is published at start-up without approvals';
      const c = await insertChange(tx, {
        kind: 'folder', baseVersion: p.current ?? null, author: p.author, reason: p.reason, emergency: false, scheduledAt: null, status: 'published',
        diff: {}, diffText: `dialogs/ published as v${p.version} at start-up (errand catalogue diff ${p.current ?? 1} ${p.version} shows what changed)`,
        impact: {}, dryRun: { ok: true, ranAt: now.toISOString(), items: [], problems: [], summary: 'not run (folder mode)' },
        autoApproved: note, createdAt: now, publishedVersion: p.version, publishedAt: now, publishedBy: p.author,
      });
      await audit(tx, { actor: p.author, action: 'change.auto-approved', subject: `change:${c.ref}`, detail: { version: p.version, previous: p.current ?? null, note } });
      return;
    }

    if (p.current === undefined) return; // no current version yet: nothing to protect
    const isPublish = p.action === 'publish';
    if (!isPublish && (await isBackout(tx, p))) {
      // The backout plan of the latest change is pre-approved: an admin or catalogue admin may return to
      // the version the current one replaced at once, even inside a freeze (that is when it is needed).
      const note = `backout of v${p.current}: returning to v${p.rollbackOf}, the version it replaced, is pre-approved for admins and catalogue admins`;
      const c = await insertChange(tx, {
        kind: 'rollback', targetVersion: p.rollbackOf!, baseVersion: p.current, author: p.author, reason: p.reason, emergency: false, scheduledAt: null, status: 'published',
        diff: {}, diffText: `v${p.version} = the content of v${p.rollbackOf} (errand catalogue diff ${p.current} ${p.rollbackOf} shows what is undone)`,
        impact: {}, dryRun: { ok: true, ranAt: now.toISOString(), items: [], problems: [], summary: `not run (backout to v${p.rollbackOf}, which was live before)` },
        autoApproved: note, createdAt: now, publishedVersion: p.version, publishedAt: now, publishedBy: p.author,
      });
      await audit(tx, { actor: p.author, action: 'change.backout', subject: `change:${c.ref}`, detail: { version: p.version, previous: p.current, rollbackOf: p.rollbackOf, ...(freeze ? { insideFreeze: freeze.id } : {}), note } });
      return;
    }
    const what = isPublish ? `publishing draft v${p.version}` : `rolling back to v${p.rollbackOf}`;
    const list = isPublish ? await changesFor(tx, { kind: 'publish', draft: p.version }) : await changesFor(tx, { kind: 'rollback', target: p.rollbackOf!, base: p.current });
    const c = list.find((x) => x.status === 'approved');
    if (!c) {
      const open = list.find((x) => x.status === 'pending-approval');
      const last = list[0];
      const how = isPublish ? `errand change create ${p.version} --reason "..."` : `errand change create --rollback ${p.rollbackOf} --reason "..."`;
      if (open) refuse(`${what} needs an approved change request: ${open.ref} is still waiting for approval (errand change show ${open.ref})`);
      if (last?.status === 'dry-run-failed') refuse(`${what} needs an approved change request: the dry run of ${last.ref} failed (errand change show ${last.ref}); fix the draft and create a new change`);
      refuse(`${what} needs an approved change request${last ? ` (${last.ref} is ${last.status}${last.closedReason ? `: ${last.closedReason}` : ''})` : ''}: ${how}`);
    }
    if (p.current !== c.baseVersion) refuse(`${c.ref} was assessed and approved against v${c.baseVersion ?? '-'}, but the current version is v${p.current}: create a new change request against it`);
    if (c.scheduledAt && c.scheduledAt.getTime() > now.getTime()) refuse(`${c.ref} is scheduled for ${fmt(c.scheduledAt)}; it is published then`);
    if (freeze && !c.emergency) refuse(`${what} is refused inside ${describeFreeze(freeze)}; only an emergency change approved by an admin may publish now (errand change create ... --emergency)`);
    await markPublished(tx, c, p, now, freeze);
  };
}

/**
 * A rollback to the version the current one replaced (its `based_on`), asked for by an active admin or
 * catalogue admin: the latest change's backout.
 */
async function isBackout(tx: Queryable, p: PendingChange): Promise<boolean> {
  const cur = (await tx.query<{ based_on: number | null }>('SELECT based_on FROM catalogue_versions WHERE number = $1', [p.current])).rows[0];
  if (!cur || cur.based_on === null || cur.based_on !== p.rollbackOf) return false;
  const person = await findPerson(tx, p.author.trim().toLowerCase());
  return !!person && person.active && (person.roles.includes('admin') || person.roles.includes('catalogue-admin'));
}

async function markPublished(tx: Queryable, c: ChangeRequest, p: PendingChange, now: Date, freeze: Freeze | undefined): Promise<void> {
  const done = await moveChange(tx, c.id, ['approved'], 'published', { at: now, by: p.author, publishedVersion: p.version });
  if (!done) refuse(`${c.ref} is no longer approved (it was published or closed meanwhile)`);
  await audit(tx, { actor: p.author, action: 'change.published', subject: `change:${c.ref}`, detail: {
    version: p.version, previous: p.current, kind: c.kind, emergency: c.emergency, ...(freeze ? { insideFreeze: freeze.id } : {}),
  } });
  await postMessage(tx, c.author, { kind: 'outcome', text: `${c.ref} is done: catalogue v${p.version} is now current${c.kind === 'rollback' ? ` (the content of v${c.targetVersion})` : ''}.${freeze ? ` Published inside ${describeFreeze(freeze)} as an emergency change.` : ''}` }, { key: `${c.id}:published` });
}

/** The guard with the real clock: what stores built without a beforeChange use (store.ts). */
export const defaultChangeControl: Guard = changeControlGuard({ now: () => new Date() });
