/**
 * Slack end to end over HTTP against the running server: signed Events API / interaction /
 * command payloads in, the Web API faked with nock and asserted.
 */
import { onlyLoopback, restoreNet } from '../support/net.js';
import { eventually, startTestApp, type TestApp } from '../support/test-app.js';
import {
  actionIds, blockAction, blockText, dmEvent, fakeSlackApi, rateLimits, sendCommand, sendEvent, sendInteraction, sign, slackEnv, TRIAGE_CHANNEL, type SlackCall,
} from '../support/slack-fake.js';

let t: TestApp;
let calls: SlackCall[];

beforeAll(async () => {
  onlyLoopback();
  calls = fakeSlackApi();
  t = await startTestApp({ env: slackEnv() });
});
afterAll(async () => {
  await t?.close();
  restoreNet();
});

const posts = (channel: string) => calls.filter((c) => c.method === 'chat.postMessage' && c.args.channel === channel);
/** Waits for the n-th (1-based) message posted to a channel and returns it. */
const nthPost = (channel: string, n: number) => eventually(async () => posts(channel)[n - 1], 15000, `message ${n} in ${channel}`);
const q = (sql: string, p: unknown[] = []) => t.app.db.query(sql, p).then((r) => r.rows);

describe('request verification', () => {
  it('refuses forged, stale and future-dated requests with 401', async () => {
    const body = JSON.stringify({ type: 'event_callback', event_id: 'EvForged', event: dmEvent('UERIN', 'hi') });
    const forged = await fetch(`${t.base}/slack/events`, { method: 'POST', headers: { 'content-type': 'application/json', ...sign(body), 'x-slack-signature': 'v0=deadbeef' }, body });
    expect(forged.status).toBe(401);
    expect(await sendEvent(t.base, dmEvent('UERIN', 'hi'), { ts: Math.floor(Date.now() / 1000) - 400 })).toBe(401);
    expect(await sendEvent(t.base, dmEvent('UERIN', 'hi'), { ts: Math.floor(Date.now() / 1000) + 400 })).toBe(401);
    expect((await q(`SELECT count(*)::int AS n FROM inbound_dedupe`))[0]!.n).toBe(0);
    const challenge = JSON.stringify({ type: 'url_verification', challenge: 'c-123', token: 'x' });
    const ok = await fetch(`${t.base}/slack/events`, { method: 'POST', headers: { 'content-type': 'application/json', ...sign(challenge) }, body: challenge });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('c-123');
  });

  it('tells a Slack user who is not in the directory', async () => {
    expect(await sendEvent(t.base, dmEvent('USTRANGER', 'I need vpn'))).toBe(200);
    const m = await nthPost('DSTRANGER', 1);
    expect(String(m.args.text)).toMatch(/could not find your Slack e-mail address in the company directory/);
  });
});

describe('a DM request, approved by button, fulfilled', () => {
  it('runs from the first DM to fulfilled, refusing clicks by the requester and by a non-approver', async () => {
    expect(await sendEvent(t.base, dmEvent('UERIN', 'I need access to the finance drive'))).toBe(200);
    const q1 = await nthPost('DERIN', 1);
    expect(blockText(q1)).toMatch(/read or write/);
    expect(actionIds(q1)).toEqual(['answer:0', 'answer:1']);
    await sendInteraction(t.base, blockAction('UERIN', 'DERIN', String(q1.args.ts ?? '1.1'), { action_id: 'answer:0', value: 'read' }));
    expect(blockText(await nthPost('DERIN', 2))).toMatch(/Until when/);
    await sendEvent(t.base, dmEvent('UERIN', 'skip'));
    expect(blockText(await nthPost('DERIN', 3))).toMatch(/What do you need it for/);
    await sendEvent(t.base, dmEvent('UERIN', 'Month-end reporting'));
    const summary = await nthPost('DERIN', 4);
    expect(actionIds(summary)).toEqual(['dialog:confirm', 'dialog:edit', 'dialog:cancel']);
    await sendInteraction(t.base, blockAction('UERIN', 'DERIN', '1.4', { action_id: 'dialog:confirm', value: 'dialog:confirm' }));

    const card = await nthPost('DMARK', 1);
    expect(blockText(card)).toMatch(/Approval needed \(Line manager\)/);
    const [approve, deny] = actionIds(card);
    expect(approve).toMatch(/^approval:[0-9a-f-]{36}:approve$/);
    expect(deny).toMatch(/:deny$/);
    const [req] = await q(`SELECT id, ref, status FROM requests WHERE requester_email = 'erin.employee@example.com' AND channel = 'slack'`);
    expect(req).toMatchObject({ status: 'awaiting-approval' });

    // the requester and a non-approver click Approve: refused, nothing changes
    await sendInteraction(t.base, blockAction('UERIN', 'DERIN', '1.5', { action_id: approve, value: approve }));
    await sendInteraction(t.base, blockAction('UTARA', 'DTARA', '1.6', { action_id: approve, value: approve }));
    await eventually(async () => posts('DTARA').some((c) => /not an approver/.test(blockText(c))), 15000, 'refusal to Tara');
    await eventually(async () => posts('DERIN').some((c) => /cannot approve or deny your own request/.test(blockText(c))), 15000, 'refusal to Erin');
    expect((await q(`SELECT status FROM approvals WHERE request_id = $1`, [req!.id]))[0]!.status).toBe('pending');

    // a double click decides once; the card is updated in place without buttons
    const cardTs = String(card.args.ts ?? '');
    await Promise.all([
      sendInteraction(t.base, blockAction('UMARK', 'DMARK', cardTs, { action_id: approve, value: approve })),
      sendInteraction(t.base, blockAction('UMARK', 'DMARK', cardTs, { action_id: approve, value: approve })),
    ]);
    const update = await eventually(async () => calls.find((c) => c.method === 'chat.update' && c.args.channel === 'DMARK'), 15000, 'chat.update');
    expect(blockText(update)).toMatch(/Approved by Mark Manager/);
    expect(actionIds(update)).toEqual([]);
    expect((await q(`SELECT count(*)::int AS n FROM request_events WHERE request_id = $1 AND kind = 'approval.approved'`, [req!.id]))[0]!.n).toBe(1);
    await eventually(async () => posts('DMARK').some((c) => /Already decided: approved by mark.manager@example.com/.test(blockText(c))), 15000, 'already decided');

    await eventually(async () => (await q('SELECT status FROM requests WHERE id = $1', [req!.id]))[0]!.status === 'fulfilled', 30000, 'fulfilled');
    await eventually(async () => posts('DERIN').some((c) => new RegExp(`${req!.ref} is done`).test(blockText(c))), 15000, 'done message');
    expect(posts('DERIN').some((c) => new RegExp(`${req!.ref}: Line manager approved by Mark Manager`).test(blockText(c)))).toBe(true);
  }, 90000);
});

describe('redeliveries', () => {
  it('handles a retried and a duplicated event once', async () => {
    await sendEvent(t.base, dmEvent('UOLGA', 'cancel'), {});
    await nthPost('DOLGA', 1);
    const before = posts('DOLGA').length;
    const ev = dmEvent('UOLGA', 'I need a new laptop', '1700000999.000200');
    const statuses = await Promise.all([
      sendEvent(t.base, ev, { eventId: 'EvDup1' }),
      sendEvent(t.base, ev, { eventId: 'EvDup1', retryNum: 1 }),
      sendEvent(t.base, ev, { eventId: 'EvDup1', retryNum: 2 }),
      sendEvent(t.base, ev, { eventId: 'EvDup2' }), // same message, another event id
    ]);
    expect(statuses).toEqual([200, 200, 200, 200]);
    await nthPost('DOLGA', before + 1);
    await new Promise((r) => setTimeout(r, 1500));
    expect(posts('DOLGA').length).toBe(before + 1);
    const conv = (await q(`SELECT version, state->>'mode' AS mode FROM conversations WHERE id = 'slack:DOLGA'`))[0]!;
    expect(conv.mode).toBe('collecting');
  });
});

describe('/request modal', () => {
  it('shows conditional fields as answers change and submits once per view', async () => {
    expect(await sendCommand(t.base, '/request', 'UERIN', 'DERIN')).toBe(200);
    const open = await eventually(async () => calls.find((c) => c.method === 'views.open' && (c.args.view as { callback_id: string }).callback_id === 'request-pick'), 15000, 'views.open');
    const pickOptions = JSON.stringify(open.args.view);
    expect(pickOptions).toContain('laptop-request');
    expect(pickOptions).not.toContain('"onboarding"'); // managers only: Erin may not request it

    const view = { id: 'VFORM', hash: 'h1', type: 'modal', callback_id: 'request-pick', private_metadata: '', state: { values: {} } };
    const modalAction = (action: Record<string, unknown>, v: Record<string, unknown>) => ({
      type: 'block_actions', user: { id: 'UERIN' }, trigger_id: 'trig-m', container: { type: 'view', view_id: 'VFORM' }, view: v, actions: [action],
    });
    await sendInteraction(t.base, modalAction({ action_id: 'catalogue:pick', type: 'static_select', selected_option: { value: 'laptop-request' } }, view));
    const form1 = await eventually(async () => calls.filter((c) => c.method === 'views.update').at(-1), 15000, 'form');
    const blocks1 = (form1.args.view as { blocks: { block_id?: string }[] }).blocks.map((b) => b.block_id).filter(Boolean);
    expect(blocks1).toContain('reason');
    expect(blocks1).not.toContain('oldAssetTag');

    const formView = { ...view, callback_id: 'request-form', private_metadata: JSON.stringify({ itemId: 'laptop-request' }), state: { values: { reason: { 'field:reason': { type: 'static_select', selected_option: { value: 'replacement' } } } } } };
    const nUpdates = calls.filter((c) => c.method === 'views.update').length;
    await sendInteraction(t.base, modalAction({ action_id: 'field:reason', type: 'static_select', selected_option: { value: 'replacement' } }, formView));
    const form2 = await eventually(async () => calls.filter((c) => c.method === 'views.update')[nUpdates], 15000, 'form update');
    const blocks2 = (form2.args.view as { blocks: { block_id?: string }[] }).blocks.map((b) => b.block_id).filter(Boolean);
    expect(blocks2).toContain('oldAssetTag');

    const sel = (v: string) => ({ type: 'static_select', selected_option: { value: v } });
    const values: Record<string, Record<string, unknown>> = {
      reason: { 'field:reason': sel('replacement') },
      oldAssetTag: { 'field:oldAssetTag': { type: 'plain_text_input', value: 'bad-tag' } },
      model: { 'field:model': sel('standard-windows') },
      deliveryLocation: { 'field:deliveryLocation': sel('london') },
    };
    const submission = (vals: Record<string, unknown>) => ({ type: 'view_submission', user: { id: 'UERIN' }, trigger_id: 'trig-s', view: { id: 'VFORM', hash: 'h2', type: 'modal', callback_id: 'request-form', private_metadata: JSON.stringify({ itemId: 'laptop-request' }), state: { values: vals } } });
    const bad = await sendInteraction(t.base, submission(values));
    expect(bad.status).toBe(200);
    expect(JSON.parse(bad.body)).toEqual({ response_action: 'errors', errors: { oldAssetTag: expect.stringMatching(/asset tag like LT-01234/) } });

    values.oldAssetTag = { 'field:oldAssetTag': { type: 'plain_text_input', value: 'LT-01234' } };
    const item = t.app.catalogue.get('laptop-request')!;
    for (const f of item.fields) {
      if (values[f.name] || !f.required || f.when) continue;
      values[f.name] = { [`field:${f.name}`]: f.type === 'choice' ? sel(String((f.options![0] as { value: string }).value)) : { type: 'plain_text_input', value: 'Screen cracked beyond repair' } };
    }
    const [r1, r2] = await Promise.all([sendInteraction(t.base, submission(values)), sendInteraction(t.base, submission(values))]);
    expect([r1.status, r2.status]).toEqual([200, 200]);
    const rows = await eventually(async () => { const r = await q(`SELECT fields, status FROM requests WHERE item_id = 'laptop-request' AND channel = 'slack'`); return r.length ? r : undefined; }, 15000, 'request');
    await new Promise((r) => setTimeout(r, 500));
    expect(await q(`SELECT count(*)::int AS n FROM requests WHERE item_id = 'laptop-request' AND channel = 'slack'`)).toEqual([{ n: 1 }]);
    expect(rows[0]!.fields).toMatchObject({ reason: 'replacement', oldAssetTag: 'LT-01234', model: 'standard-windows' });
  }, 60000);
});

describe('triage in the triage channel', () => {
  it('posts unsure requests to the channel; a triage agent routes one and the card shows who took it', async () => {
    await sendEvent(t.base, dmEvent('UERIN', 'cancel'));
    await sendEvent(t.base, dmEvent('UERIN', 'can you set up blorp access for me'));
    const card = await nthPost(TRIAGE_CHANNEL, 1);
    expect(blockText(card)).toMatch(/blorp/);
    const ids = actionIds(card);
    const select = ids.find((i) => /^triage:[0-9a-f-]{36}:assign$/.test(i))!;
    expect(ids).toEqual(expect.arrayContaining([expect.stringMatching(/:case$/), expect.stringMatching(/:not-a-request$/)]));
    expect(posts(TRIAGE_CHANNEL)).toHaveLength(1); // once for the channel, not once per agent
    const before = posts('DERIN').length;
    await sendInteraction(t.base, blockAction('UTARA', TRIAGE_CHANNEL, String(card.args.ts ?? '1.9'), { type: 'static_select', action_id: select, selected_option: { value: 'vpn-access' } }));
    const upd = await eventually(async () => calls.find((c) => c.method === 'chat.update' && c.args.channel === TRIAGE_CHANNEL), 15000, 'triage card update');
    expect(blockText(upd)).toMatch(/Assigned to VPN access by Tara Triage/);
    expect(actionIds(upd)).toEqual([]);
    const resumed = await nthPost('DERIN', before + 1);
    expect(blockText(resumed) + blockText(posts('DERIN')[before + 1])).toMatch(/VPN/);
    expect(await q(`SELECT intent FROM training_labels WHERE text LIKE '%blorp%'`)).toEqual([{ intent: 'vpn-access' }]);
  }, 60000);
});

describe('App Home', () => {
  it('publishes my requests and the approvals waiting for me', async () => {
    await sendEvent(t.base, { type: 'app_home_opened', user: 'UMARK', channel: 'DMARK', tab: 'home', event_ts: `${Date.now() / 1000}` });
    const pub = await eventually(async () => calls.find((c) => c.method === 'views.publish' && c.args.user_id === 'UMARK'), 15000, 'views.publish');
    expect((pub.args.view as { type: string }).type).toBe('home');
    expect(JSON.stringify(pub.args.view)).toMatch(/errand · Mark Manager/);
    expect(JSON.stringify(pub.args.view)).toMatch(/My requests/);
  });
});

describe('deny with a reason', () => {
  it('opens a modal for the reason, then denies and tells the requester', async () => {
    const { request } = await t.app.requests.submit({
      item: t.app.catalogue.get('shared-drive-access')!, requesterEmail: 'erin.employee@example.com', channel: 'slack', conversationId: 'slack:DERIN',
      answers: { drive: 'hr', access: 'read', justification: 'Policy review' },
    });
    const card = await eventually(async () => posts('DMARK').find((c) => blockText(c).includes(request.ref)), 15000, 'approval card');
    const deny = actionIds(card).find((a) => a.endsWith(':deny'))!;
    await sendInteraction(t.base, blockAction('UMARK', 'DMARK', String(card.args.ts), { action_id: deny, value: deny }));
    const modal = await eventually(async () => calls.find((c) => c.method === 'views.open' && (c.args.view as { callback_id: string }).callback_id === 'deny-reason'), 15000, 'deny modal');
    const approvalId = (modal.args.view as { private_metadata: string }).private_metadata;
    expect(deny).toBe(`approval:${approvalId}:deny`);
    expect((await q('SELECT status FROM requests WHERE id = $1', [request.id]))[0]!.status).toBe('awaiting-approval');
    const submit = (reason: string) => sendInteraction(t.base, { type: 'view_submission', user: { id: 'UMARK' }, view: { id: 'VDENY', callback_id: 'deny-reason', private_metadata: approvalId, state: { values: { reason: { reason: { type: 'plain_text_input', value: reason } } } } } });
    const empty = await submit(' ');
    expect(JSON.parse(empty.body)).toMatchObject({ response_action: 'errors', errors: { reason: expect.any(String) } });
    await submit('HR share is restricted to HR staff');
    await eventually(async () => (await q('SELECT status FROM requests WHERE id = $1', [request.id]))[0]!.status === 'denied', 15000, 'denied');
    await eventually(async () => posts('DERIN').some((c) => blockText(c).includes(`${request.ref} (Shared drive access) was denied by Mark Manager: HR share is restricted to HR staff`)), 15000, 'requester told');
    const upd = await eventually(async () => calls.find((c) => c.method === 'chat.update' && c.args.channel === 'DMARK' && blockText(c).includes(request.ref)), 15000, 'card updated');
    expect(blockText(upd)).toMatch(/Denied by Mark Manager/);
  });
});

describe('@mentions and rate limits', () => {
  it('continues a channel @mention in a DM thread, keeping details out of the channel', async () => {
    const n0 = posts('DOLGA').length;
    await sendEvent(t.base, dmEvent('UOLGA', 'cancel'));
    await nthPost('DOLGA', n0 + 1); // the reply to "cancel" is out before we count
    const before = posts('DOLGA').length;
    await sendEvent(t.base, { type: 'app_mention', channel: 'CGENERAL', user: 'UOLGA', text: '<@UBOT> I need vpn access', ts: '1700001111.000300', event_ts: '1700001111.000300' });
    const inChannel = await nthPost('CGENERAL', 1);
    expect(inChannel.args.thread_ts).toBe('1700001111.000300');
    expect(String(inChannel.args.text)).toMatch(/direct message/);
    const root = await nthPost('DOLGA', before + 1);
    expect(String(root.args.text)).toMatch(/You asked in <#CGENERAL>/);
    const prompt = await nthPost('DOLGA', before + 2);
    expect(prompt.args.thread_ts).toMatch(/^\d+\.\d+$/);
    expect(blockText(prompt)).toMatch(/VPN/);
    expect(posts('CGENERAL')).toHaveLength(1);
  });

  it('waits out a 429 with Retry-After and delivers once', async () => {
    await sendEvent(t.base, dmEvent('UMARK', 'cancel'));
    await eventually(async () => posts('DMARK').some((c) => /nothing in progress/.test(blockText(c))), 15000, 'first reply');
    const n = posts('DMARK').length;
    rateLimits['chat.postMessage'] = 1;
    await sendEvent(t.base, dmEvent('UMARK', 'status'));
    await eventually(async () => posts('DMARK').length >= n + 2, 15000, 'retry after 429');
    await new Promise((r) => setTimeout(r, 1200));
    const after = posts('DMARK').slice(n);
    expect(after).toHaveLength(2); // the 429 and the retry: one message reached Slack
    expect(blockText(after[0])).toBe(blockText(after[1]));
    expect((await q(`SELECT count(*)::int AS n FROM channel_deliveries WHERE channel = 'slack' AND target = 'DMARK' AND status = 'sent'`))[0]!.n).toBeGreaterThanOrEqual(1);
  });

  it('a message to an address outside the directory does not block later deliveries', async () => {
    const { postMessage } = await import('../../src/conversation/outbox.repository.js');
    const stray = await postMessage(t.app.db, 'iam-team@example.com', { kind: 'info', text: 'to a team mailbox' });
    await postMessage(t.app.db, 'mark.manager@example.com', { kind: 'info', text: 'after the stray one' });
    await eventually(async () => posts('DMARK').some((c) => /after the stray one/.test(blockText(c))), 15000, 'the later message');
    // lanes run in parallel: the stray one is recorded in its own lane, not necessarily first
    const d = await eventually(async () => (await q(`SELECT status, attempts, error FROM channel_deliveries WHERE channel = 'slack' AND message_id = $1`, [stray]))[0], 15000, 'the stray one recorded');
    expect(d).toMatchObject({ status: 'failed', attempts: 5 });
    expect(d!.error).toMatch(/no Slack account/);
  });
});
