/**
 * `errand teams package`: fills the app id and host into manifest/teams/manifest.json, checks it,
 * and zips it with the two icons into the package to upload to Teams.
 */
import { readFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { zipSync } from 'fflate';
import { z } from 'zod';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const manifestSchema = z.object({
  manifestVersion: z.string(),
  id: z.string().regex(GUID, 'a GUID (the Microsoft app id)'),
  icons: z.object({ color: z.string(), outline: z.string() }),
  bots: z.array(z.object({ botId: z.string().regex(GUID, 'a GUID (the Microsoft app id)'), scopes: z.array(z.string()).refine((s) => s.includes('personal') && s.includes('team'), 'personal and team scopes') })).min(1),
  validDomains: z.array(z.string().regex(/^[a-z0-9.-]+(:\d+)?$/i, 'a host name')),
}).passthrough();

export interface PackageOptions { root: string; appId: string | undefined; host: string | undefined; out: string | undefined }

/** Builds the zip; returns its path and size, or throws with what is wrong. */
export async function packageTeamsApp(o: PackageOptions): Promise<{ file: string; bytes: number }> {
  if (!o.appId || !GUID.test(o.appId)) throw new Error('an app id is needed: --app-id <GUID> (or MICROSOFT_APP_ID); it is the Azure Bot\'s Microsoft App ID');
  if (!o.host) throw new Error('a host is needed: --host errand.example.com (the public host of /api/messages)');
  const dir = path.join(o.root, 'manifest', 'teams');
  const text = (await readFile(path.join(dir, 'manifest.json'), 'utf8')).replaceAll('{{MICROSOFT_APP_ID}}', o.appId).replaceAll('{{HOST}}', o.host);
  const parsed = manifestSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`manifest/teams/manifest.json is invalid:\n${parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')}`);
  const files: Record<string, Uint8Array> = { 'manifest.json': new TextEncoder().encode(text) };
  for (const icon of [parsed.data.icons.color, parsed.data.icons.outline]) files[icon] = new Uint8Array(await readFile(path.join(dir, icon)));
  const zip = zipSync(files, { level: 9 });
  const file = path.resolve(o.out ?? path.join(o.root, 'dist', 'errand-teams.zip'));
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, zip);
  return { file, bytes: zip.length };
}
