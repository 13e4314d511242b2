/**
 * Freeze windows of catalogue changes: add (admins and catalogue admins; the authors of changes
 * scheduled inside the new window are told they will be refused), list, remove (admins only).
 * Every change is audited in the same transaction. Used through ChangeService.
 */
import { audit } from '../../audit/audit.repository.js';
import type { Database } from '../../db/database.js';
import { normEmail, type Person } from '../../directory/directory.repository.js';
import { ChangeError, CREATORS, hasRole, tellAuthor } from './access.js';
import { describeFreeze } from './guard.js';
import type { ChangeRequest, Freeze } from './model.js';
import { fmtTime } from './render.js';
import { getFreeze, insertFreeze, listChanges, listFreezes, removeFreeze } from './repository.js';

export interface FreezeServiceDeps {
  db: Database;
  now: () => Date;
  person: (email: string) => Promise<Person | undefined>;
}

export class FreezeService {
  constructor(private readonly d: FreezeServiceDeps) {}

  /** Adds a window; changes scheduled inside it are reported (and their authors told). */
  async add(f: { from: Date; to: Date; reason: string; actor: string }): Promise<{ freeze: Freeze; affected: ChangeRequest[] }> {
    const actor = normEmail(f.actor);
    if (!hasRole(await this.d.person(actor), CREATORS)) throw new ChangeError('FORBIDDEN', `only ${CREATORS.join(' and ')} may add freeze windows`);
    if (Number.isNaN(f.from.getTime()) || Number.isNaN(f.to.getTime())) throw new ChangeError('INVALID', '--from and --to must be ISO times (2026-12-20T00:00:00Z)');
    if (f.to.getTime() <= f.from.getTime()) throw new ChangeError('INVALID', '--to must be after --from');
    if (f.to.getTime() <= this.d.now().getTime()) throw new ChangeError('INVALID', 'the freeze would already be over');
    if (!f.reason?.trim()) throw new ChangeError('INVALID', 'a reason is needed');
    const freeze = await this.d.db.transaction(async (tx) => {
      const fr = await insertFreeze(tx, { from: f.from, to: f.to, reason: f.reason, by: actor });
      await audit(tx, { actor, action: 'change.freeze-added', subject: `freeze:${fr.id}`, detail: { from: f.from.toISOString(), to: f.to.toISOString(), reason: fr.reason } });
      return fr;
    });
    const affected = (await listChanges(this.d.db, { statuses: ['pending-approval', 'approved'] }))
      .filter((c) => !c.emergency && c.scheduledAt && c.scheduledAt >= f.from && c.scheduledAt < f.to);
    for (const c of affected) await tellAuthor(this.d.db, c, `${c.ref} is scheduled for ${fmtTime(c.scheduledAt)}, inside the new ${describeFreeze(freeze)}: it will be refused then. Create it again for another time, or as an emergency change.`, `freeze:${freeze.id}`);
    return { freeze, affected };
  }

  async list(o: { all?: boolean } = {}): Promise<Freeze[]> {
    return listFreezes(this.d.db, o.all ? { includeRemoved: true } : { after: this.d.now() });
  }

  async remove(id: number, actorEmail: string, reason?: string | null): Promise<Freeze> {
    const actor = normEmail(actorEmail);
    if (!hasRole(await this.d.person(actor), ['admin'])) throw new ChangeError('FORBIDDEN', 'only admins may remove freeze windows');
    const now = this.d.now();
    const done = await this.d.db.transaction(async (tx) => {
      const f = await removeFreeze(tx, id, actor, reason?.trim() || null, now);
      if (f) await audit(tx, { actor, action: 'change.freeze-removed', subject: `freeze:${id}`, detail: { reason: reason?.trim() || null } });
      return f;
    });
    if (!done) {
      const f = await getFreeze(this.d.db, id);
      throw f ? new ChangeError('CONFLICT', `freeze #${id} was removed already`) : new ChangeError('NOT_FOUND', `there is no freeze #${id}`);
    }
    return done;
  }
}
