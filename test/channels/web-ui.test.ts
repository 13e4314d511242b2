/**
 * The web chat page in a real browser (Debian's chromium through playwright-core): a person picks who
 * they are, asks for something, and sees errand's reply; links to this server in bot messages are
 * clickable, other links stay text. Skipped (with a message) when no chromium is installed.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { postMessage } from '../../src/conversation/outbox.repository.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const CHROMIUM = [process.env.CHROMIUM_PATH, '/usr/bin/chromium'].find((p): p is string => Boolean(p && existsSync(p)));
// eslint-disable-next-line no-console
if (!CHROMIUM) console.warn('test/channels/web-ui.test.ts skipped: no chromium at CHROMIUM_PATH or /usr/bin/chromium (apt-get install -y chromium).');
const suite = CHROMIUM ? describe : describe.skip;

suite('web chat in a browser', () => {
  let t: TestApp;
  let browser: Browser;
  beforeAll(async () => {
    t = await startTestApp({ kind: 'pglite' });
    browser = await chromium.launch({ executablePath: CHROMIUM!, args: ['--no-sandbox'] });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('chats as the chosen person and links only same-origin URLs', async () => {
    const page = await browser.newPage();
    await page.goto(t.base);
    await page.waitForFunction(() => !(document.querySelector('#person') as HTMLSelectElement).disabled);
    await page.selectOption('#person', 'erin.employee@example.com');
    await page.fill('#composer-text', 'I need access to the finance drive');
    await page.click('#send');
    await page.waitForFunction(() => /Shared drive access/.test(document.querySelector('#messages')!.textContent ?? ''), undefined, { timeout: 15_000 });

    await postMessage(t.app.db, 'erin.employee@example.com', { kind: 'info', text: `Sign in: ${t.base}/admin/login?x=1. Elsewhere: https://evil.example.net/login` });
    const link = page.locator('#messages a');
    await link.first().waitFor({ timeout: 15_000 });
    expect(await link.count()).toBe(1);
    expect(await link.first().getAttribute('href')).toBe(`${t.base}/admin/login?x=1`);
    expect(await page.locator('#messages').textContent()).toContain('https://evil.example.net/login');
    await page.close();
  });
});
