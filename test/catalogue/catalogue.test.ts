import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { checkCatalogueDir, loadCatalogue, parseCatalogueFile, CatalogueInvalidError } from '../../src/catalogue/loader.js';
import { PROJECT_ROOT } from '../../src/config.js';

const run = promisify(execFile);
const DIALOGS = path.join(PROJECT_ROOT, 'dialogs');
const STARTER_IDS = ['password-reset', 'mfa-reset', 'vpn-access', 'software-request', 'laptop-request', 'peripheral-request',
  'shared-drive-access', 'distribution-list', 'app-access', 'admin-access', 'onboarding', 'offboarding', 'shared-mailbox',
  'channel-request', 'mobile-phone', 'payroll-change', 'report-issue'];

async function sample(): Promise<string> {
  return readFile(path.join(DIALOGS, 'shared-drive-access.yaml'), 'utf8');
}

describe('the shipped catalogue', () => {
  it('loads exactly the starter items, each with fields, workflow and owner', async () => {
    const cat = await loadCatalogue(DIALOGS);
    expect(cat.list().map((i) => i.id).sort()).toEqual([...STARTER_IDS].sort());
    expect(cat.get('report-issue')!.fulfilment).toBe('case');
    const payroll = cat.get('payroll-change')!;
    expect(payroll.fields.filter((f) => f.sensitive).length).toBeGreaterThanOrEqual(2);
    for (const i of cat.list()) expect(i.workflow.length).toBeGreaterThan(0);
  });
});

describe('catalogue validation errors name the file, the path and what was expected', () => {
  it('rejects a bad id', async () => {
    const r = parseCatalogueFile('Bad_Item.yaml', (await sample()).replace('id: shared-drive-access', 'id: Bad_Item'));
    expect(r.item).toBeUndefined();
    expect(r.errors).toEqual(expect.arrayContaining([expect.objectContaining({ file: 'Bad_Item.yaml', path: 'id', message: expect.stringContaining('^[a-z][a-z0-9-]+$') })]));
  });

  it('rejects a when condition naming an unknown field', async () => {
    const r = parseCatalogueFile('shared-drive-access.yaml', (await sample()).replace('when: access == "write"', 'when: acess == "write"'));
    expect(r.errors).toEqual([expect.objectContaining({ path: 'approvals[1].when', message: expect.stringContaining('unknown field "acess"') })]);
  });

  it('rejects an unknown action and a missing mandatory key', async () => {
    const text = (await sample()).replace('action: notify', 'action: notify.sms').replace(/^risk: medium\n/m, '');
    const r = parseCatalogueFile('shared-drive-access.yaml', text);
    const paths = r.errors.map((e) => e.path);
    expect(paths).toContain('risk');
    // structural errors stop before cross-checks; fix risk and the action error shows
    const r2 = parseCatalogueFile('shared-drive-access.yaml', (await sample()).replace('action: notify', 'action: notify.sms'));
    expect(r2.errors).toEqual([expect.objectContaining({ path: 'workflow[1].action', message: expect.stringContaining('unknown action "notify.sms"') })]);
  });

  it('rejects a template naming an unknown field and invalid YAML with its line', async () => {
    const r = parseCatalogueFile('shared-drive-access.yaml', (await sample()).replace('{{fields.drive}}-{{fields.access}}', '{{fields.disk}}'));
    expect(r.errors[0]).toMatchObject({ path: 'workflow[0].inputs', message: expect.stringContaining('unknown field "disk"') });
    const y = parseCatalogueFile('x.yaml', 'id: x\ntitle: [unclosed\n');
    expect(y.errors[0]!.message).toMatch(/not valid YAML/);
    expect(y.errors[0]!.path).toMatch(/line \d+/);
  });

  it('refuses the whole catalogue when one file is broken, listing every error', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cat-'));
    await cp(DIALOGS, dir, { recursive: true });
    await writeFile(path.join(dir, 'vpn-access.yaml'), 'id: vpn-access\ntitle: VPN\n');
    const { errors } = await checkCatalogueDir(dir);
    expect(errors.every((e) => e.file === 'vpn-access.yaml')).toBe(true);
    expect(errors.map((e) => e.path)).toEqual(expect.arrayContaining(['description', 'owner', 'workflow']));
    await expect(loadCatalogue(dir)).rejects.toBeInstanceOf(CatalogueInvalidError);
  });

  it('`errand catalogue validate` exits 1 with the errors, 0 when valid', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cat-'));
    await writeFile(path.join(dir, 'vpn-access.yaml'), (await sample()).replace('id: shared-drive-access', 'id: vpn-access').replace('type: choice', 'type: dropdown'));
    const bin = path.join(PROJECT_ROOT, 'bin', 'errand.js');
    const bad = await run('node', [bin, 'catalogue', 'validate', dir]).then(() => null, (e: { code: number; stderr: string }) => e);
    expect(bad?.code).toBe(1);
    expect(bad?.stderr).toMatch(/vpn-access\.yaml: fields\[0\]\.type: .*/);
    const ok = await run('node', [bin, 'catalogue', 'validate']);
    expect(ok.stdout).toMatch(/catalogue ok: 17 items/);
  }, 60000);
});

describe('start-up with a broken catalogue', () => {
  it('refuses to start and lists the errors', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cat-'));
    await cp(DIALOGS, dir, { recursive: true });
    await writeFile(path.join(dir, 'vpn-access.yaml'), (await readFile(path.join(DIALOGS, 'vpn-access.yaml'), 'utf8')).replace(/^risk: .*$/m, 'risk: extreme'));
    const res = await run(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'src/main.ts')], {
      env: { ...process.env, CATALOGUE_DIR: dir, DATA_DIR: await mkdtemp(path.join(tmpdir(), 'data-')), PORT: '0', DATABASE_URL: '' },
    }).then(() => null, (e: { code: number; stderr: string }) => e);
    expect(res?.code).toBe(1);
    expect(res?.stderr).toMatch(/errand cannot start/);
    expect(res?.stderr).toMatch(/vpn-access\.yaml: risk: /);
  }, 60000);
});
