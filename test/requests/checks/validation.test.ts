/**
 * `checks:` in the catalogue are validated with the rest of it: errors name the file, the check and
 * what was expected; references outside the item (compatibility tables, other items) are checked at
 * start-up.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { loadCatalogue, parseCatalogueFile } from '../../../src/catalogue/loader.js';
import { PROJECT_ROOT } from '../../../src/config.js';
import { loadCompatibility } from '../../../src/requests/checks/compatibility.js';
import { validateCheckReferences } from '../../../src/requests/checks/validate.js';

const DIALOGS = path.join(PROJECT_ROOT, 'dialogs');
const text = (id: string) => readFile(path.join(DIALOGS, `${id}.yaml`), 'utf8');
const errorsOf = async (id: string, edit: (s: string) => string) => parseCatalogueFile(`${id}.yaml`, edit(await text(id))).errors;
const swap = (from: string, to: string) => (s: string) => { expect(s).toContain(from); return s.replace(from, to); };

it('the shipped catalogue and compatibility tables are consistent', async () => {
  const cat = await loadCatalogue(DIALOGS);
  expect(cat.get('software-request')!.checks.map((c) => c.kind)).toEqual(['compatibility', 'licence', 'duplicate']);
  expect(cat.get('app-access')!.checks.map((c) => c.kind)).toEqual(['conflict', 'licence', 'duplicate']);
  expect(cat.get('mfa-reset')!.checks[0]).toMatchObject({ kind: 'http', onError: 'fail-open', timeoutMs: 3000 });
  const file = path.join(DIALOGS, '_compatibility.yaml');
  expect(validateCheckReferences(cat.list(), await loadCompatibility(file), file)).toEqual([]);
});

it('names the check and the field or option that does not exist', async () => {
  expect(await errorsOf('software-request', swap('      visio: visio\n', '      vizio: visio\n'))).toEqual([
    { file: 'software-request.yaml', path: 'checks[1].products.vizio', message: expect.stringContaining('check "licence-seat": "vizio" is not an option of field "software"; options: visio, ms-project') },
  ]);
  expect(await errorsOf('software-request', swap('keyFields: [software, otherSoftware]', 'keyFields: [software, version]'))).toEqual([
    { file: 'software-request.yaml', path: 'checks[2].keyFields[1]', message: expect.stringContaining('check "not-already-requested": refers to unknown field "version"; known fields: software, otherSoftware, platform') },
  ]);
  expect(await errorsOf('software-request', swap('    field: software\n    table: software', '    field: justification\n    table: software'))).toEqual([
    { file: 'software-request.yaml', path: 'checks[0].field', message: 'check "runs-on-your-computer": field "justification" is a text field; expected choice or multichoice' },
  ]);
  expect(await errorsOf('software-request', swap('      visio: [drawio]', '      visio: [lucidchart]'))).toEqual([
    expect.objectContaining({ path: 'checks[1].alternatives.visio', message: expect.stringContaining('"lucidchart" is not an option of field "software"') }),
  ]);
  expect(await errorsOf('app-access', swap('    when: accessLevel != "viewer"\n    field: application', '    when: level != "viewer"\n    field: application'))).toEqual([
    expect.objectContaining({ path: 'checks[1].when', message: expect.stringContaining('check "licence-seat": condition "level != "viewer"" refers to unknown field "level"') }),
  ]);
});

it('refuses unknown kinds, missing settings and http checks that cannot work', async () => {
  const kind = await errorsOf('software-request', swap('kind: duplicate', 'kind: triplicate'));
  expect(kind).toEqual([expect.objectContaining({ path: 'checks[2].kind', message: expect.stringContaining('licence, compatibility, duplicate, conflict or http') })]);
  const onError = await errorsOf('mfa-reset', swap('    onError: fail-open\n', ''));
  expect(onError).toEqual([expect.objectContaining({ path: 'checks[0].onError', message: expect.stringContaining('fail-open (warn and continue) or fail-closed') })]);
  const action = await errorsOf('mfa-reset', swap('action: http.request\n    inputs:\n      method: GET', 'action: idm.mfaStatus\n    inputs:\n      method: GET'));
  expect(action).toEqual([expect.objectContaining({ path: 'checks[0].action', message: expect.stringContaining('check "mfa-registered": unknown action "idm.mfaStatus"; expected http.request or a connector operation') })]);
  const jsonata = await errorsOf('mfa-reset', swap('body.registered = false', 'body.registered = = false'));
  expect(jsonata).toEqual([expect.objectContaining({ path: 'checks[0].result', message: expect.stringContaining('not a valid JSONata expression') })]);
  const template = await errorsOf('mfa-reset', swap('{{requester.email}}/mfa', '{{fields.user}}/mfa'));
  expect(template).toEqual([expect.objectContaining({ path: 'checks[0].inputs', message: expect.stringContaining('template {{fields.user}}: unknown field "user"') })]);
  const both = await errorsOf('app-access', swap('    field: application\n    products:', '    product: salesforce\n    field: application\n    products:'));
  expect(both).toEqual([expect.objectContaining({ path: 'checks[1]', message: 'check "licence-seat": give either product (one pool for the item) or field + products, not both' })]);
});

it('checks tables and items outside the item when the app starts', async () => {
  const cat = await loadCatalogue(DIALOGS);
  const items = cat.list().map((i) => i.id === 'peripheral-request' ? { ...i, checks: [{ ...i.checks[0]!, table: 'gadgets' } as typeof i.checks[number]] }
    : i.id === 'shared-drive-access' ? { ...i, checks: [{ ...i.checks[0]!, item: 'leaver-process' } as typeof i.checks[number]] } : i);
  const errors = validateCheckReferences(items, await loadCompatibility(path.join(DIALOGS, '_compatibility.yaml')), '_compatibility.yaml');
  expect(errors).toEqual(expect.arrayContaining([
    { file: 'peripheral-request.yaml', path: 'checks[0].table', message: 'check "fits-your-computer": no table "gadgets" in _compatibility.yaml; tables: software, peripherals' },
    { file: 'shared-drive-access.yaml', path: 'checks[0].item', message: 'check "no-open-offboarding": no catalogue item "leaver-process"' },
  ]));
  expect(await loadCompatibility(path.join(DIALOGS, 'no-such-file.yaml'))).toEqual({});
});
