/**
 * The feedback loop: labels collected from triage decisions (including "that's not what I meant"
 * corrections) are reviewed by a person, and accepted ones are folded into intents/<id>.yaml, so the
 * training data stays in the repository, reviewable, and `errand train` stays deterministic.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseDocument, YAMLSeq } from 'yaml';
import type { Queryable } from '../db/database.js';

export interface Label { id: number; text: string; intent: string; source: string; labelledBy: string | null; createdAt: Date; status: string }

export async function pendingLabels(q: Queryable): Promise<Label[]> {
  const r = await q.query(`SELECT * FROM training_labels WHERE status = 'pending' ORDER BY id`);
  return r.rows.map((x) => ({ id: Number(x.id), text: x.text, intent: x.intent, source: x.source, labelledBy: x.labelled_by, createdAt: x.created_at, status: x.status }));
}

/** Accepts or rejects pending labels (by id, or all); returns how many changed. */
export async function reviewLabels(q: Queryable, ids: number[] | 'all', decision: 'accepted' | 'rejected', reviewer: string): Promise<number> {
  const r = ids === 'all'
    ? await q.query(`UPDATE training_labels SET status = $1, reviewed_by = $2, reviewed_at = now() WHERE status = 'pending'`, [decision, reviewer])
    : await q.query(`UPDATE training_labels SET status = $1, reviewed_by = $2, reviewed_at = now() WHERE status = 'pending' AND id = ANY($3::bigint[])`, [decision, reviewer, ids]);
  return r.rowCount ?? 0;
}

/** Appends accepted labels to the intents files (skipping texts already there); marks them folded. */
export async function foldAccepted(q: Queryable, intentsDir: string): Promise<{ added: number; skipped: number; unknown: string[] }> {
  const rows = (await q.query<{ id: string; text: string; intent: string }>(`SELECT id, text, intent FROM training_labels WHERE status = 'accepted' ORDER BY id`)).rows;
  const byIntent = new Map<string, typeof rows>();
  for (const r of rows) byIntent.set(r.intent, [...(byIntent.get(r.intent) ?? []), r]);
  const out = { added: 0, skipped: 0, unknown: [] as string[] };
  for (const [intent, labels] of byIntent) {
    const file = path.join(intentsDir, `${intent}.yaml`);
    let text: string;
    try { text = await readFile(file, 'utf8'); } catch { out.unknown.push(intent); continue; }
    const doc = parseDocument(text);
    const seq = doc.get('examples', true);
    if (!(seq instanceof YAMLSeq)) { out.unknown.push(intent); continue; }
    const have = new Set(seq.items.map((i) => String((i as { value?: unknown }).value ?? i).trim().toLowerCase()));
    for (const l of labels) {
      const t = l.text.trim();
      if (have.has(t.toLowerCase())) out.skipped++;
      else { seq.add(t); have.add(t.toLowerCase()); out.added++; }
    }
    await writeFile(file, doc.toString());
    await q.query(`UPDATE training_labels SET status = 'folded' WHERE id = ANY($1::bigint[])`, [labels.map((l) => l.id)]);
  }
  return out;
}
