/**
 * The devices people use (the asset list, table `assets`) for compatibility checks, and the demo
 * seed (`seed/assets.yaml`, or ASSETS_SEED) loaded at start-up:
 *
 *   assets:                 # upserted by tag (a real deployment loads its CMDB export the same way)
 *     - tag: LAP-1001
 *       person: erin.employee@example.com
 *       kind: laptop        # laptop | desktop | phone | tablet | ...
 *       model: Lenovo ThinkPad T14 Gen 3
 *       os: windows
 *       ports: [usb-a, usb-c, hdmi]
 *   licencePools:           # created when missing; never overwritten (admins own them after that)
 *     - { product: visio, title: Microsoft Visio, seats: 5, costPerSeat: 180, owner: euc@example.com }
 *
 * A missing file means nothing to load.
 */
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { z } from 'zod';
import type { Database, Queryable } from '../../db/database.js';
import { PRODUCT_PATTERN } from './schema.js';

export interface Device { tag: string; personEmail: string; kind: string; model: string; os: string | null; ports: string[] }

const seedSchema = z.object({
  assets: z.array(z.object({
    tag: z.string().min(1),
    person: z.string().email(),
    kind: z.string().min(1),
    model: z.string().min(1),
    os: z.string().min(1).optional(),
    ports: z.array(z.string().min(1)).default([]),
    active: z.boolean().default(true),
  }).strict()).default([]),
  licencePools: z.array(z.object({
    product: z.string().regex(PRODUCT_PATTERN, 'a product key like "visio"'),
    title: z.string().min(1).optional(),
    seats: z.number().int().min(0),
    costPerSeat: z.number().min(0).default(0),
    owner: z.string().email(),
  }).strict()).default([]),
}).strict();

/** Loads the seed file; returns what it loaded. Throws naming the file and the path on bad input. */
export async function seedAssets(db: Database, file: string): Promise<{ assets: number; pools: number }> {
  let text: string;
  try { text = await readFile(file, 'utf8'); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { assets: 0, pools: 0 };
    throw e;
  }
  const parsed = seedSchema.safeParse(parse(text) ?? {});
  if (!parsed.success) throw new Error(`${file}: invalid assets seed:\n${parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')}`);
  let pools = 0;
  await db.transaction(async (tx) => {
    for (const a of parsed.data.assets) {
      await tx.query(
        `INSERT INTO assets (tag, person_email, kind, model, os, ports, active, source) VALUES ($1, $2, $3, $4, $5, $6, $7, 'seed')
         ON CONFLICT (tag) DO UPDATE SET person_email = EXCLUDED.person_email, kind = EXCLUDED.kind, model = EXCLUDED.model, os = EXCLUDED.os,
           ports = EXCLUDED.ports, active = EXCLUDED.active, updated_at = now()`,
        [a.tag, a.person.toLowerCase(), a.kind.toLowerCase(), a.model, a.os?.toLowerCase() ?? null, a.ports.map((p) => p.toLowerCase()), a.active]);
    }
    for (const p of parsed.data.licencePools) {
      const r = await tx.query(`INSERT INTO licence_pools (product, title, seats, cost_per_seat, owner, updated_by) VALUES ($1, $2, $3, $4, $5, 'seed') ON CONFLICT (product) DO NOTHING`,
        [p.product, p.title ?? null, p.seats, p.costPerSeat, p.owner.toLowerCase()]);
      pools += r.rowCount ?? 0;
    }
  });
  return { assets: parsed.data.assets.length, pools };
}

/** The active devices registered to a person. */
export async function devicesOf(q: Queryable, email: string): Promise<Device[]> {
  const r = await q.query(`SELECT tag, person_email, kind, model, os, ports FROM assets WHERE person_email = $1 AND active ORDER BY tag`, [email.toLowerCase()]);
  return r.rows.map((x) => ({ tag: x.tag as string, personEmail: x.person_email as string, kind: x.kind as string, model: x.model as string, os: x.os as string | null, ports: (x.ports as string[]) ?? [] }));
}
