/** Identity sync from a SCIM directory (http connector + JSONata mapping, faked with nock). */
import { cp, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import nock from 'nock';
import { onlyLoopback, restoreNet } from '../support/net.js';
import { PROJECT_ROOT } from '../../src/config.js';
import { findPerson } from '../../src/directory/directory.repository.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const CONNECTORS = `connectors:
  hrdir:
    type: http
    config:
      baseUrl: https://hr-scim.test/scim/v2
      auth: { type: apiKey, header: authorization, prefix: "Bearer ", key: "env:HRDIR_TOKEN" }
      operations:
        listPeople:
          method: GET
          path: /Users
          response: >-
            {"people": [body.Resources.{
              "email": emails[primary = true].value,
              "name": displayName,
              "department": \`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\`.department,
              "manager": \`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\`.manager.value,
              "title": title,
              "active": active,
              "groups": [groups.display]
            }]}
`;
const user = (email: string, name: string, dept: string, extra: Record<string, unknown> = {}) => ({
  schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: email, displayName: name, active: true, title: 'Staff',
  emails: [{ value: email, primary: true }], groups: [{ display: 'all-staff' }],
  'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { department: dept, manager: { value: 'mark.manager@example.com' } }, ...extra,
});

let t: TestApp;
beforeAll(async () => {
  onlyLoopback();
  const dir = await mkdtemp(path.join(tmpdir(), 'idsync-'));
  await cp(path.join(PROJECT_ROOT, 'dialogs'), dir, { recursive: true });
  await writeFile(path.join(dir, '_connectors.yaml'), CONNECTORS);
  await writeFile(path.join(dir, '_governance.yaml'), 'identitySync: { action: hrdir.listPeople, everyMinutes: 60 }\n');
  t = await startTestApp({ env: { CATALOGUE_DIR: dir, CONNECTORS_FILE: path.join(dir, '_connectors.yaml'), GOVERNANCE_FILE: path.join(dir, '_governance.yaml'), HRDIR_TOKEN: 'scim-token' } });
});
afterAll(async () => { await t?.close(); restoreNet(); });

it('adds new hires, updates attributes and groups, and disables people marked inactive', async () => {
  nock('https://hr-scim.test', { reqheaders: { authorization: 'Bearer scim-token' } }).get('/scim/v2/Users').reply(200, {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], totalResults: 3,
    Resources: [
      user('nina.newhire@example.com', 'Nina Newhire', 'Finance', { groups: [{ display: 'all-staff' }, { display: 'finance-team' }] }),
      user('erin.employee@example.com', 'Erin Employee', 'Treasury'),
      user('carl.contractor@example.com', 'Carl Contractor', 'Engineering', { active: false }),
    ],
  });
  const res = await t.app.syncDirectory();
  expect(res).toMatchObject({ created: 1, updated: 2, disabled: 1 });
  const nina = await findPerson(t.app.db, 'nina.newhire@example.com');
  expect(nina).toMatchObject({ name: 'Nina Newhire', department: 'Finance', manager: 'mark.manager@example.com', roles: ['employee'] });
  expect(nina!.groups).toEqual(['all-staff', 'finance-team']);
  const erin = await findPerson(t.app.db, 'erin.employee@example.com');
  expect(erin).toMatchObject({ department: 'Treasury', roles: ['employee'] });
  expect((await findPerson(t.app.db, 'carl.contractor@example.com'))!.active).toBe(false);
  const a = (await t.app.db.query(`SELECT detail FROM audit_log WHERE action = 'directory.synced'`)).rows[0]!;
  expect(a.detail).toMatchObject({ created: 1, disabled: 1 });
});
