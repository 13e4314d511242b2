/**
 * Looks up, in the directory, every person a first message mentions (e-mail, @handle, name), so the
 * dialog can fill person fields from it: an exact e-mail or full-name match wins; otherwise every
 * partial match is returned and more than one leaves the field to the dialog.
 */
import type { Queryable } from '../db/database.js';
import { searchPeople } from '../directory/directory.repository.js';
import { personMentions, type PersonRef, type PersonResolver } from './extract.js';

export async function directoryPersonResolver(db: Queryable, text: string): Promise<PersonResolver> {
  const hits = new Map<string, PersonRef[]>();
  for (const m of personMentions(text).slice(0, 10)) {
    const key = m.replace(/^@/, '').trim().toLowerCase();
    const found = await searchPeople(db, key);
    const exact = found.filter((p) => p.email.toLowerCase() === key || p.name.toLowerCase() === key);
    hits.set(m, (exact.length ? exact : found).map((p) => ({ id: p.email, name: p.name })));
  }
  return (m) => hits.get(m);
}
