import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { unzipSync } from 'fflate';
import { PROJECT_ROOT } from '../../src/config.js';

const run = promisify(execFile);
const bin = path.join(PROJECT_ROOT, 'bin', 'errand.js');
const pngSize = (b: Uint8Array) => [Buffer.from(b).readUInt32BE(16), Buffer.from(b).readUInt32BE(20)];

it('`errand teams package` zips the filled-in manifest and both icons', async () => {
  const out = path.join(await mkdtemp(path.join(tmpdir(), 'teams-')), 'app.zip');
  const id = '0f0f0f0f-1111-2222-3333-444444444444';
  const r = await run('node', [bin, 'teams', 'package', '--app-id', id, '--host', 'errand.example.com', '--out', out]);
  expect(r.stdout).toMatch(/Teams app package written/);
  const files = unzipSync(new Uint8Array(await readFile(out)));
  expect(Object.keys(files).sort()).toEqual(['color.png', 'manifest.json', 'outline.png']);
  const m = JSON.parse(Buffer.from(files['manifest.json']!).toString('utf8'));
  expect(m.id).toBe(id);
  expect(m.bots[0].botId).toBe(id);
  expect(m.bots[0].scopes).toEqual(['personal', 'team']);
  expect(m.bots[0].commandLists[0].commands.map((c: { title: string }) => c.title)).toEqual(['request', 'status', 'help']);
  expect(JSON.stringify(m)).not.toMatch(/\{\{/);
  expect(pngSize(files['color.png']!)).toEqual([192, 192]);
  expect(pngSize(files['outline.png']!)).toEqual([32, 32]);
  const bad = await run('node', [bin, 'teams', 'package', '--app-id', 'not-a-guid', '--host', 'x.example.com']).then(() => null, (e: { code: number; stderr: string }) => e);
  expect(bad?.code).toBe(1);
  expect(bad?.stderr).toMatch(/app id is needed/);
}, 60000);
