/**
 * Job locks and request leases after a worker dies.
 *
 * 1. The job lock must outlive the request lease. A fulfilment job is locked by Agenda before the
 * runner claims the request (it may wait for a free slot first); the claim takes a lease of
 * JOB_LOCK_LIFETIME_MS - 500 ms. If the lock is not renewed at the claim, a worker killed before
 * its first heartbeat leaves a lock that expires before its lease: the next worker picks the job
 * up, cannot claim the request (the lease still holds), drops the job, and the request waits
 * for the stranded-request sweep (a minute or two) — what the kill -9 runs met under load.
 * Checked through the real app and job runner: while a step is in flight, the job's lock is no
 * older than the claim.
 * 2. Whatever the order of lock and lease, a worker that takes over a job while the dead worker's
 *    lease still holds does not drop it: it looks again when the lease ends, and the request is
 *    finished then (not a minute or two later by the stranded-request sweep).
 */
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/config.js';
import { FULFIL_JOB } from '../../src/requests/request.service.js';
import { eventually, startTestApp, type TestApp } from '../support/test-app.js';
import { FakeBackend } from '../support/faults/fake-backend.js';
import { KILL_ITEM, killItem } from '../support/faults/items.js';

const LOCK_MS = 10_000;
const LEASE_ITEM = `id: faults-lease
title: Lease test item
description: One local step, after a manager's approval.
category: test
owner: { team: QA, contact: qa.owner@example.com }
responseTime: 1h
risk: low
fulfilment: automated
approvals:
  - { id: manager, approver: { kind: manager } }
workflow:
  - { id: tell, action: notify, inputs: { to: "{{requester.email}}", text: "{{request.ref}} done" } }
`;
let t: TestApp | undefined;
let backend: FakeBackend;
let dir: string | undefined;

afterAll(async () => {
  await backend?.close(); // ends the hung call
  await t?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('renews the job lock when it claims the request, so the lock outlives the lease', async () => {
  backend = await new FakeBackend().start();
  dir = await mkdtemp(path.join(tmpdir(), 'faults-lease-cat-'));
  await cp(path.join(PROJECT_ROOT, 'dialogs'), dir, { recursive: true });
  await writeFile(path.join(dir, `${KILL_ITEM}.yaml`), killItem(backend.url));
  await writeFile(path.join(dir, 'faults-lease.yaml'), LEASE_ITEM);
  let arrived = false;
  backend.intercept = () => { arrived = true; return { hang: 'before' }; }; // the first step stays in flight
  t = await startTestApp({ env: { CATALOGUE_DIR: dir, TEAMS_ENABLED: 'false', JOB_LOCK_LIFETIME_MS: String(LOCK_MS) } });
  const { request: r } = await t.app.requests.submit({ item: t.app.catalogue.get(KILL_ITEM)!, requesterEmail: 'erin.employee@example.com', answers: { plan: 'ok' }, channel: 'test' });
  await eventually(async () => arrived, 20000, 'the first backend call');
  // before the first heartbeat (every lease/3 ≈ 3 s): the lock is the one renewed at the claim
  const [row] = (await t.app.db.query(
    `SELECT j.locked_at, r.lease_until, r.lease_until - make_interval(secs => $2) AS claimed_at
       FROM agenda_jobs j JOIN requests r ON r.id::text = j.data->>'requestId' WHERE r.id = $1 AND j.locked_at IS NOT NULL`,
    [r.id, (LOCK_MS - 500) / 1000])).rows;
  expect(row).toBeDefined();
  expect(row!.locked_at.getTime()).toBeGreaterThanOrEqual(row!.claimed_at.getTime());
  expect(row!.locked_at.getTime() + LOCK_MS).toBeGreaterThan(row!.lease_until.getTime());
}, 60000);

it('a job taken over while the dead worker\'s lease still holds is looked at again when the lease ends', async () => {
  const app = t!.app;
  const q = async (sql: string, p: unknown[] = []) => (await app.db.query(sql, p)).rows;
  // awaiting approval: no job yet; then the state a dead worker leaves: in fulfilment, its lease running
  // for a few more seconds, and its job (whose lock has expired) free for anyone
  const { request: r } = await app.requests.submit({ item: app.catalogue.get('faults-lease')!, requesterEmail: 'erin.employee@example.com', answers: {}, channel: 'test' });
  await q(`UPDATE requests SET status = 'in-fulfilment', lease_owner = 'dead-worker', lease_until = now() + interval '3 seconds' WHERE id = $1`, [r.id]);
  const leaseUntil = (await q('SELECT lease_until FROM requests WHERE id = $1', [r.id]))[0]!.lease_until as Date;
  await app.queue.enqueue(FULFIL_JOB, { requestId: r.id });
  // the live worker takes the job at once, cannot claim the request, and schedules a look at the lease's end
  const retry = await eventually(async () => (await q(`SELECT next_run_at FROM agenda_jobs WHERE name = 'fulfil-request-retry' AND data->>'requestId' = $1`, [r.id]))[0], 15000, 'a retry at the end of the lease');
  expect((retry.next_run_at as Date).getTime()).toBeGreaterThanOrEqual(leaseUntil.getTime());
  expect((await q('SELECT status, lease_owner FROM requests WHERE id = $1', [r.id]))[0]).toEqual({ status: 'in-fulfilment', lease_owner: 'dead-worker' });
  await eventually(async () => (await q('SELECT status FROM requests WHERE id = $1', [r.id]))[0]!.status === 'fulfilled', 20000, 'fulfilled after the lease');
  const resumed = await q(`SELECT detail FROM request_events WHERE request_id = $1 AND kind = 'fulfilment.resumed'`, [r.id]);
  expect(resumed).toHaveLength(1);
}, 60000);
