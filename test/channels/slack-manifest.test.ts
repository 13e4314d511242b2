/** The Slack manifest matches what the adapter uses. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { PROJECT_ROOT } from '../../src/config.js';

it('declares the events, commands, scopes and endpoint the adapter relies on', async () => {
  const m = parse(await readFile(path.join(PROJECT_ROOT, 'manifest/slack.yaml'), 'utf8'));
  const src = await readFile(path.join(PROJECT_ROOT, 'src/channels/slack/slack.adapter.ts'), 'utf8');
  const events = [...src.matchAll(/app\.event\('([a-z_]+)'/g)].map((x) => x[1]);
  expect(events.sort()).toEqual(['app_home_opened', 'app_mention', 'message']);
  expect(m.settings.event_subscriptions.bot_events.sort()).toEqual(['app_home_opened', 'app_mention', 'message.im']);
  const commands = [...src.matchAll(/app\.command\('([^']+)'/g)].map((x) => x[1]).sort();
  expect(m.features.slash_commands.map((c: { command: string }) => c.command).sort()).toEqual(commands);
  for (const c of m.features.slash_commands) expect(new URL(c.url).pathname).toBe('/slack/events');
  expect(new URL(m.settings.interactivity.request_url).pathname).toBe('/slack/events');
  expect(m.features.app_home.home_tab_enabled).toBe(true);
  const calls = new Set([...src.matchAll(/client\.([a-z]+\.[a-zA-Z]+)\(/g)].map((x) => x[1]));
  const scopes: string[] = m.oauth_config.scopes.bot;
  const need: Record<string, string> = { 'chat.postMessage': 'chat:write', 'chat.postEphemeral': 'chat:write', 'views.open': 'commands', 'views.publish': 'chat:write' };
  for (const c of calls) if (need[c!]) expect(scopes).toContain(need[c!]);
  expect(scopes).toEqual(expect.arrayContaining(['users:read', 'users:read.email', 'im:write', 'im:history', 'app_mentions:read', 'commands']));
});
