/**
 * Slack users ↔ directory people, by e-mail: users.info for an inbound user, users.lookupByEmail
 * for a person we must reach; the mapping (and the DM channel) is cached in channel_identities.
 */
import type { WebClient } from '@slack/web-api';
import type { Queryable } from '../../db/database.js';
import { findPerson, type Person } from '../../directory/directory.repository.js';

export class SlackIdentities {
  constructor(private readonly db: Queryable, private readonly client: WebClient) {}

  /** The directory person of a Slack user, or undefined (no e-mail, or not in the directory). */
  async personOf(userId: string): Promise<Person | undefined> {
    if (typeof userId !== 'string' || !/^[A-Za-z0-9]{1,64}$/.test(userId)) return undefined; // not a Slack user id (U0123ABC, W0123ABC)
    const cached = await this.db.query<{ person_email: string }>(`SELECT person_email FROM channel_identities WHERE channel = 'slack' AND external_id = $1`, [userId]);
    if (cached.rows[0]) return findPerson(this.db, cached.rows[0].person_email);
    let info: Awaited<ReturnType<WebClient['users']['info']>>;
    try {
      info = await this.client.users.info({ user: userId });
    } catch (e) {
      // a user id Slack does not know (deleted, or not a user): nobody we can act for
      if ((e as { data?: { error?: string } }).data?.error === 'user_not_found') return undefined;
      throw e;
    }
    const email = info.user?.profile?.email?.toLowerCase();
    if (!email) return undefined;
    const person = await findPerson(this.db, email);
    if (person) await this.remember(userId, person.email);
    return person;
  }

  private async remember(userId: string, email: string): Promise<void> {
    await this.db.query(
      `INSERT INTO channel_identities (channel, external_id, person_email) VALUES ('slack', $1, $2)
       ON CONFLICT (channel, external_id) DO UPDATE SET person_email = EXCLUDED.person_email, updated_at = now()`, [userId, email]);
  }

  /** The Slack user id of a person (looked up by e-mail once), or undefined when not in Slack. */
  async userOf(email: string): Promise<string | undefined> {
    const r = await this.db.query<{ external_id: string }>(`SELECT external_id FROM channel_identities WHERE channel = 'slack' AND person_email = $1 LIMIT 1`, [email]);
    if (r.rows[0]) return r.rows[0].external_id;
    try {
      const found = await this.client.users.lookupByEmail({ email });
      if (!found.user?.id) return undefined;
      await this.remember(found.user.id, email);
      return found.user.id;
    } catch (e) {
      if ((e as { data?: { error?: string } }).data?.error === 'users_not_found') return undefined;
      throw e;
    }
  }

  /** The DM channel with a Slack user (conversations.open once, then cached). */
  async dmChannel(userId: string): Promise<string> {
    const r = await this.db.query<{ dm: string | null }>(`SELECT meta->>'dm' AS dm FROM channel_identities WHERE channel = 'slack' AND external_id = $1`, [userId]);
    if (r.rows[0]?.dm) return r.rows[0].dm;
    const open = await this.client.conversations.open({ users: userId });
    const dm = open.channel?.id;
    if (!dm) throw new Error(`conversations.open gave no channel for ${userId}`);
    await this.db.query(`UPDATE channel_identities SET meta = meta || jsonb_build_object('dm', $2::text) WHERE channel = 'slack' AND external_id = $1`, [userId, dm]);
    return dm;
  }
}

/** Records an inbound delivery key; false when it was seen already (a retry or a duplicate). */
export async function firstDelivery(db: Queryable, channel: string, key: string): Promise<boolean> {
  const r = await db.query('INSERT INTO inbound_dedupe (channel, key) VALUES ($1, $2) ON CONFLICT DO NOTHING', [channel, key]);
  return (r.rowCount ?? 0) > 0;
}

/** Forgets inbound keys older than `hours` (kept well past Slack's retry window). */
export async function pruneDedupe(db: Queryable, hours = 24): Promise<number> {
  const r = await db.query(`DELETE FROM inbound_dedupe WHERE received_at < now() - make_interval(hours => $1)`, [hours]);
  return r.rowCount ?? 0;
}
