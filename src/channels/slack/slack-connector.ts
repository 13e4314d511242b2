/**
 * The `slack` connector: workflow operations on Slack itself (for channel requests), with the same
 * Web API settings as the Slack adapter. Operations are idempotent by name: a channel that exists
 * already is found and returned, inviting someone already in the channel is a success.
 *   slack.createChannel   { name, private? }            → { channel, created }
 *   slack.inviteToChannel { channel, people: e-mails }  → { channel, invited }
 */
import { WebClient } from '@slack/web-api';
import { z } from 'zod';
import type { SlackConfig } from '../../config.js';
import { ConnectorError, type Connector } from '../../fulfilment/connectors/connector.port.js';

/** Web API client options shared with the adapter (429s honoured a few times, never for 30 minutes). */
export const slackClientOptions = (c: SlackConfig) => ({
  slackApiUrl: c.apiUrl,
  retryConfig: { retries: 3, factor: 2, minTimeout: 500, maxTimeout: 30_000, maxRetryTime: 60_000 },
  rejectRateLimitedCalls: false,
});

function mapError(e: unknown): ConnectorError {
  const x = e as { code?: string; data?: { error?: string }; retryAfter?: number; statusCode?: number; message?: string };
  if (x.code === 'slack_webapi_rate_limited_error') return new ConnectorError('Slack rate limit', true, (x.retryAfter ?? 1) * 1000, 429);
  if (x.code === 'slack_webapi_platform_error') return new ConnectorError(`Slack refused: ${x.data?.error ?? 'error'}`, x.data?.error === 'ratelimited' || x.data?.error === 'internal_error' || x.data?.error === 'service_unavailable');
  if (x.code === 'slack_webapi_http_error') return new ConnectorError(`Slack answered ${x.statusCode}`, (x.statusCode ?? 500) >= 500 || x.statusCode === 429, undefined, x.statusCode);
  return new ConnectorError(`Slack call failed: ${x.message ?? String(e)}`, true);
}

const channelName = z.string().trim().toLowerCase().regex(/^[a-z0-9][a-z0-9_-]{0,79}$/, 'a Slack channel name: lower case letters, digits, - and _, at most 80');

/** Builds the `slack` connector (id `slack`), or with a given client (tests share the adapter's). */
export function createSlackConnector(config: SlackConfig, client: WebClient = new WebClient(config.botToken, slackClientOptions(config))): Connector {
  async function findChannel(name: string): Promise<string | undefined> {
    let cursor: string | undefined;
    do {
      const page = await client.conversations.list({ types: 'public_channel,private_channel', limit: 200, exclude_archived: true, ...(cursor ? { cursor } : {}) });
      const hit = page.channels?.find((c) => c.name === name);
      if (hit?.id) return hit.id;
      cursor = page.response_metadata?.next_cursor || undefined;
    } while (cursor);
    return undefined;
  }
  return {
    id: 'slack',
    type: 'slack',
    operations: {
      async createChannel(input) {
        const i = z.object({ name: channelName, private: z.union([z.boolean(), z.string()]).optional() }).safeParse(input);
        if (!i.success) throw new ConnectorError(`slack.createChannel: ${i.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`, false);
        const isPrivate = i.data.private === true || i.data.private === 'true';
        try {
          const r = await client.conversations.create({ name: i.data.name, is_private: isPrivate });
          return { channel: r.channel?.id ?? null, created: true };
        } catch (e) {
          if ((e as { data?: { error?: string } }).data?.error !== 'name_taken') throw mapError(e);
          const id = await findChannel(i.data.name).catch((err) => { throw mapError(err); });
          if (!id) throw new ConnectorError(`slack.createChannel: "${i.data.name}" is taken but not visible to the bot (archived or private without it)`, false);
          return { channel: id, created: false };
        }
      },
      async inviteToChannel(input) {
        const i = z.object({ channel: z.string().min(1), people: z.union([z.string(), z.array(z.string())]) }).safeParse(input);
        if (!i.success) throw new ConnectorError(`slack.inviteToChannel: ${i.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`, false);
        const emails = (Array.isArray(i.data.people) ? i.data.people : i.data.people.split(/[,\s]+/)).map((x) => x.trim().toLowerCase()).filter(Boolean);
        const ids: string[] = [];
        for (const email of emails) {
          try {
            const u = await client.users.lookupByEmail({ email });
            if (u.user?.id) ids.push(u.user.id);
          } catch (e) {
            if ((e as { data?: { error?: string } }).data?.error === 'users_not_found') throw new ConnectorError(`slack.inviteToChannel: ${email} has no Slack account`, false);
            throw mapError(e);
          }
        }
        if (!ids.length) return { channel: i.data.channel, invited: 0 };
        try {
          await client.conversations.invite({ channel: i.data.channel, users: ids.join(',') });
        } catch (e) {
          if ((e as { data?: { error?: string } }).data?.error !== 'already_in_channel') throw mapError(e);
        }
        return { channel: i.data.channel, invited: ids.length };
      },
    },
    async check() {
      try { await client.auth.test(); } catch (e) { throw mapError(e); }
    },
  };
}
