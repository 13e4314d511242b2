/**
 * Teams conversation references (so errand can message people and channels proactively) and
 * Teams users ↔ directory people (by AAD object id, e-mail from the Teams roster, cached).
 */
import type { ConversationReference } from 'botbuilder';
import type { Queryable } from '../../db/database.js';
import { findPerson, type Person } from '../../directory/directory.repository.js';

export class TeamsStore {
  constructor(private readonly db: Queryable) {}

  async saveReference(ref: Partial<ConversationReference>, personEmail: string | null): Promise<void> {
    const id = ref.conversation?.id;
    if (!id || JSON.stringify(ref).includes('\\u0000')) return; // PostgreSQL stores no NUL; the Bot Framework never sends one
    const kind = ref.conversation?.conversationType ?? 'personal';
    await this.db.query(
      `INSERT INTO teams_conversations (conversation_id, person_email, kind, reference) VALUES ($1, $2, $3, $4)
       ON CONFLICT (conversation_id) DO UPDATE SET reference = EXCLUDED.reference, person_email = COALESCE(EXCLUDED.person_email, teams_conversations.person_email), updated_at = now()`,
      [id, kind === 'personal' ? personEmail : null, kind, JSON.stringify(ref)]);
  }

  async reference(conversationId: string): Promise<Partial<ConversationReference> | undefined> {
    const r = await this.db.query<{ reference: Partial<ConversationReference> }>('SELECT reference FROM teams_conversations WHERE conversation_id = $1', [conversationId]);
    return r.rows[0]?.reference;
  }

  async personalConversationOf(email: string): Promise<string | undefined> {
    const r = await this.db.query<{ conversation_id: string }>(`SELECT conversation_id FROM teams_conversations WHERE person_email = $1 AND kind = 'personal' ORDER BY updated_at DESC LIMIT 1`, [email]);
    return r.rows[0]?.conversation_id;
  }

  /** The person behind a Teams user: cached by AAD object id, else `lookupEmail()` (the roster) once. */
  async personOf(aadObjectId: string | undefined, teamsUserId: string, lookupEmail: () => Promise<string | undefined>): Promise<Person | undefined> {
    const key = aadObjectId ?? teamsUserId;
    if (typeof key !== 'string' || !key || key.includes('\u0000')) return undefined;
    const cached = await this.db.query<{ person_email: string }>(`SELECT person_email FROM channel_identities WHERE channel = 'teams' AND external_id = $1`, [key]);
    if (cached.rows[0]) return findPerson(this.db, cached.rows[0].person_email);
    const email = (await lookupEmail())?.toLowerCase();
    if (!email) return undefined;
    const person = await findPerson(this.db, email);
    if (person) {
      await this.db.query(
        `INSERT INTO channel_identities (channel, external_id, person_email, meta) VALUES ('teams', $1, $2, jsonb_build_object('teamsId', $3::text))
         ON CONFLICT (channel, external_id) DO UPDATE SET person_email = EXCLUDED.person_email, meta = channel_identities.meta || EXCLUDED.meta, updated_at = now()`,
        [key, person.email, teamsUserId]);
    }
    return person;
  }
}
