/** Loads the demo directory (seed/people.yaml) into the people table, validated with zod. */
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { z } from 'zod';
import type { Database } from '../db/database.js';
import { upsertPerson } from './directory.repository.js';

const seedSchema = z.object({
  people: z.array(z.object({
    email: z.string().email(),
    name: z.string().min(1),
    department: z.string().optional(),
    title: z.string().optional(),
    roles: z.array(z.string()).default(['employee']),
    manager: z.string().email().optional(),
    employmentType: z.string().default('employee'),
    location: z.string().optional(),
    groups: z.array(z.string()).default([]),
  }).strict()).min(1),
}).strict();

/** Upserts every person of the seed file; throws an error naming the file and path on bad input. */
export async function seedDirectory(db: Database, file: string): Promise<number> {
  const parsed = seedSchema.safeParse(parse(await readFile(file, 'utf8')));
  if (!parsed.success) {
    throw new Error(`${file}: invalid directory seed:\n${parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')}`);
  }
  await db.transaction(async (tx) => {
    // managers first is not required: manager is a plain e-mail column
    for (const p of parsed.data.people) await upsertPerson(tx, p, 'seed');
  });
  return parsed.data.people.length;
}
