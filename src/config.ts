/**
 * Configuration: read once from the environment, validated with zod. The only module that reads
 * `process.env`. Every variable, its default and meaning is listed in the README.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/** The repository root (holds dialogs/, intents/, models/, seed/). */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  DATABASE_URL: z.string().url('a postgres:// URL').optional(),
  DATA_DIR: z.string().default(path.join(PROJECT_ROOT, 'data')),
  CATALOGUE_DIR: z.string().default(path.join(PROJECT_ROOT, 'dialogs')),
  CATALOGUE_SOURCE: z.enum(['database', 'folder']).default('database'),
  MODEL_FILE: z.string().default(path.join(PROJECT_ROOT, 'models', 'intent-model.json')),
  DIRECTORY_SEED: z.string().default(path.join(PROJECT_ROOT, 'seed', 'people.yaml')),
  ASSETS_SEED: z.string().default(path.join(PROJECT_ROOT, 'seed', 'assets.yaml')),
  COMPATIBILITY_FILE: z.string().default(path.join(PROJECT_ROOT, 'dialogs', '_compatibility.yaml')),
  NLU_THRESHOLD: z.coerce.number().min(0).max(1).optional(),
  NLP_MODEL_DIR: z.string().min(1).optional(),
  INTENTS_DIR: z.string().default(path.join(PROJECT_ROOT, 'intents')),
  API_KEYS: z.string().default('dev-api-key'),
  WEB_CHAT_DEMO: bool.default(true),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  JOB_CONCURRENCY: z.coerce.number().int().min(1).max(100).default(5),
  JOB_LOCK_LIFETIME_MS: z.coerce.number().int().min(1000).default(5 * 60_000),
  JOB_PROCESS_EVERY_MS: z.coerce.number().int().min(50).max(600_000).default(2000),
  NODE_ENV: z.string().default('development'),
  SLACK_BOT_TOKEN: z.string().regex(/^xox[bp]-/, 'a bot token starting with xoxb-').optional(),
  SLACK_SIGNING_SECRET: z.string().min(8).optional(),
  SLACK_APP_TOKEN: z.string().regex(/^xapp-/, 'an app-level token starting with xapp-').optional(),
  SLACK_TRIAGE_CHANNEL: z.string().regex(/^[CG][A-Z0-9]+$/, 'a channel id like C0123ABCD').optional(),
  SLACK_API_URL: z.string().url().default('https://slack.com/api/'),
  GOVERNANCE_FILE: z.string().default(path.join(PROJECT_ROOT, 'dialogs', '_governance.yaml')),
  CONNECTORS_FILE: z.string().default(path.join(PROJECT_ROOT, 'dialogs', '_connectors.yaml')),
  VAULT_ADDR: z.string().url().optional(),
  VAULT_TOKEN: z.string().min(1).optional(),
  ALERT_RECIPIENTS: z.string().optional(),
  SYNTHETIC_CHECK_EVERY_MS: z.coerce.number().int().min(1000).default(30_000),
  TEAMS_ENABLED: bool.optional(),
  MICROSOFT_APP_ID: z.string().min(1).optional(),
  MICROSOFT_APP_PASSWORD: z.string().min(1).optional(),
  MICROSOFT_APP_TENANT_ID: z.string().min(1).optional(),
  MICROSOFT_APP_TYPE: z.enum(['MultiTenant', 'SingleTenant', 'UserAssignedMSI']).default('MultiTenant'),
  MICROSOFT_APP_CERT_THUMBPRINT: z.string().min(1).optional(),
  MICROSOFT_APP_CERT_KEY: z.string().min(1).optional(),
  TEAMS_TRIAGE_CHANNEL: z.string().min(3).optional(),
  TEAMS_SERVICE_URL: z.string().url().default('https://smba.trafficmanager.net/teams/'),
  METRICS_TOKEN: z.string().min(16, 'at least 16 characters').optional(),
  ALERTS_FILE: z.string().default(path.join(PROJECT_ROOT, 'dialogs', '_alerts.yaml')),
  ALERT_WEBHOOK_URL: z.string().url().optional(),
  ADMIN_SESSION_TTL_HOURS: z.coerce.number().min(0.1).max(720).default(8),
  ADMIN_PUBLIC_URL: z.string().url('the dashboard\'s public base URL, e.g. https://errand.example.com').optional(),
  // e-mail intake (src/channels/email): on when EMAIL_ADDRESS is set
  EMAIL_ADDRESS: z.email('the service desk\'s e-mail address, e.g. itdesk@example.com').optional(),
  EMAIL_FROM_NAME: z.string().min(1).max(100).default('IT service desk (errand)'),
  EMAIL_ALIASES: z.string().optional(),
  EMAIL_SMTP_HOST: z.string().min(1).optional(),
  EMAIL_SMTP_PORT: z.coerce.number().int().min(1).max(65535).default(587),
  EMAIL_SMTP_SECURE: bool.default(false),
  EMAIL_SMTP_USER: z.string().min(1).optional(),
  EMAIL_SMTP_PASSWORD: z.string().min(1).optional(),
  EMAIL_IMAP_HOST: z.string().min(1).optional(),
  EMAIL_IMAP_PORT: z.coerce.number().int().min(1).max(65535).default(993),
  EMAIL_IMAP_SECURE: bool.default(true),
  EMAIL_IMAP_USER: z.string().min(1).optional(),
  EMAIL_IMAP_PASSWORD: z.string().min(1).optional(),
  EMAIL_IMAP_MAILBOX: z.string().min(1).default('INBOX'),
  EMAIL_IMAP_PROCESSED_MAILBOX: z.string().min(1).optional(),
  EMAIL_IMAP_POLL_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
  EMAIL_LISTEN_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  EMAIL_LISTEN_HOST: z.string().min(1).default('127.0.0.1'),
  EMAIL_LISTEN_USER: z.string().min(1).optional(),
  EMAIL_LISTEN_PASSWORD: z.string().min(8, 'at least 8 characters').optional(),
  EMAIL_LISTEN_TLS_KEY: z.string().min(1).optional(),
  EMAIL_LISTEN_TLS_CERT: z.string().min(1).optional(),
  EMAIL_MAX_MESSAGE_BYTES: z.coerce.number().int().min(10_000).max(200 * 1024 * 1024).default(25 * 1024 * 1024),
  EMAIL_MAX_ATTACHMENT_BYTES: z.coerce.number().int().min(1).max(100 * 1024 * 1024).default(10 * 1024 * 1024),
  EMAIL_UNKNOWN_SENDERS: z.enum(['reject', 'triage']).default('reject'),
  EMAIL_TRUSTED_AUTHSERV_IDS: z.string().optional(),
  EMAIL_REQUIRE_AUTH: bool.default(false),
  EMAIL_NOTIFY: z.enum(['email-users', 'all']).default('email-users'),
  EMAIL_PUBLIC_URL: z.string().url('the public base URL of approval links, e.g. https://errand.example.com').optional(),
  EMAIL_LINK_TTL_HOURS: z.coerce.number().min(0.1).max(720).default(72),
  EMAIL_MAX_RECEIVED: z.coerce.number().int().min(3).max(200).default(25),
});

export interface Config {
  port: number;
  database: { kind: 'postgres'; url: string } | { kind: 'pglite'; dataDir: string };
  catalogueDir: string;
  /**
   * Which wins when CATALOGUE_DIR differs from the current catalogue version at start-up: `database`
   * (the system of record; a warning is logged) or `folder` (development: the folder is published as a
   * new version). See src/catalogue/versions/boot.ts.
   */
  catalogueSource: 'database' | 'folder';
  /** Segregation-of-duties policy and entitlement conflict matrix (missing file = defaults). */
  governanceFile: string;
  modelFile: string;
  directorySeed: string;
  /** Pre-validation (src/requests/checks): devices and licence pools seeded at start-up, compatibility tables (missing files = none). */
  checks: { assetsSeed: string; compatibilityFile: string };
  nluThreshold: number | undefined;
  /** Optional local sentence-embedding model folder (transformers.js layout); combined with the lexical model. */
  nlpModelDir: string | undefined;
  /** intents/: the embedding head is trained on it at start-up when nlpModelDir is set. */
  intentsDir: string;
  /** Keys accepted in `Authorization: Bearer <key>` / `X-API-Key` on /api. */
  apiKeys: string[];
  /** The demo web chat lets anyone act as any directory person: development only. */
  webChatDemo: boolean;
  logLevel: string;
  jobs: { concurrency: number; lockLifetimeMs: number; processEveryMs: number };
  production: boolean;
  /** Slack adapter settings; undefined when Slack is not configured (the adapter is off). */
  slack: SlackConfig | undefined;
  /** Teams adapter settings; undefined when off. */
  teams: TeamsConfig | undefined;
  connectors: {
    file: string;
    /** Where `env:NAME` secret references are read from (the environment this config was loaded from). */
    secretEnv: Record<string, string | undefined>;
    vault: { endpoint: string; token: string } | undefined;
    /** People (e-mails) told when a backend's synthetic check starts or stops failing. */
    alertRecipients: string[];
    syntheticEveryMs: number;
  };
  /** GET /metrics and alerting (src/observability). */
  observability: { metricsToken: string | undefined; alertsFile: string; alertWebhookUrl: string | undefined };
  /** The admin dashboard's sign-in (src/http/admin): session lifetime, and the base URL of chat sign-in links. */
  admin: { sessionTtlHours: number; publicUrl: string | undefined };
  /** The e-mail channel (src/channels/email); undefined when EMAIL_ADDRESS is not set. */
  email: EmailConfig | undefined;
}

export interface EmailConfig {
  /** The service desk's address: From of every mail errand sends, and an address of ours (loop guard). */
  address: string;
  fromName: string;
  /** Further addresses that are ours (accepted by the listener, never answered). Lower-case. */
  aliases: string[];
  /** Outbound relay (nodemailer). The password is a secret: never logged. */
  smtp: { host: string; port: number; secure: boolean; user: string | undefined; password: string | undefined };
  /** IMAP polling of a mailbox; undefined = off. */
  imap: { host: string; port: number; secure: boolean; user: string; password: string; mailbox: string; processedMailbox: string | undefined; pollMs: number } | undefined;
  /** The SMTP listener errand runs itself; undefined = off. Port 0 = any free port (tests). */
  listen: { host: string; port: number; user: string | undefined; password: string | undefined; tlsKeyFile: string | undefined; tlsCertFile: string | undefined } | undefined;
  maxMessageBytes: number;
  maxAttachmentBytes: number;
  /** Mail from addresses outside the directory (or failing authentication): a polite refusal, or a case for the service desk. */
  unknownSenders: 'reject' | 'triage';
  /** authserv-ids whose Authentication-Results headers are believed (lower-case); empty = none checked. */
  trustedAuthservIds: string[];
  /** Mail without a passing, aligned result from a trusted authserv-id is treated as from an unknown sender. */
  requireAuth: boolean;
  /** Who gets messages that belong to no conversation (approvals, notifications) by e-mail. */
  notify: 'email-users' | 'all';
  /** Base URL of approval links (no trailing slash). */
  publicUrl: string;
  linkTtlHours: number;
  /** More Received: headers than this is treated as a mail loop. */
  maxReceived: number;
}

export interface TeamsConfig {
  /** Empty in development mode: unauthenticated activities are accepted (Bot Framework Emulator). */
  appId: string;
  appPassword: string | undefined;
  tenantId: string | undefined;
  appType: 'MultiTenant' | 'SingleTenant' | 'UserAssignedMSI';
  certThumbprint: string | undefined;
  certKey: string | undefined;
  /** Conversation id of the Teams channel for triage cards (19:…@thread.tacv2). */
  triageChannel: string | undefined;
  /** Service URL for proactive messages to a channel the bot has not heard from yet. */
  serviceUrl: string;
}

export interface SlackConfig {
  botToken: string;
  signingSecret: string;
  /** Set → Socket Mode instead of HTTP events. */
  appToken: string | undefined;
  triageChannel: string | undefined;
  apiUrl: string;
}

/** A value as shown in a configuration error: the user-info of URLs ("postgres://user:pass@host") hidden. */
function withoutCredentials(v: string | undefined): string | undefined {
  return v?.replace(/\/\/.*@/, '//***@');
}

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
}

/** Parses configuration from an environment map; throws ConfigError naming each bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    // values of secrets are not repeated in the error (it reaches logs), nor credentials in a URL
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message} (${/PASSWORD|SECRET|TOKEN|KEY/.test(String(i.path[0])) ? 'value hidden' : `got ${JSON.stringify(withoutCredentials(cleaned[String(i.path[0])]))}`})`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  const apiKeys = e.API_KEYS.split(',').map((k) => k.trim()).filter(Boolean);
  if (production && apiKeys.includes('dev-api-key')) throw new ConfigError('invalid configuration:\n  API_KEYS: the default development key is not allowed when NODE_ENV=production');
  let slack: SlackConfig | undefined;
  if (e.SLACK_BOT_TOKEN || e.SLACK_SIGNING_SECRET) {
    if (!e.SLACK_BOT_TOKEN || (!e.SLACK_SIGNING_SECRET && !e.SLACK_APP_TOKEN)) {
      throw new ConfigError('invalid configuration:\n  SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN for Socket Mode) must be set together');
    }
    slack = { botToken: e.SLACK_BOT_TOKEN, signingSecret: e.SLACK_SIGNING_SECRET ?? '', appToken: e.SLACK_APP_TOKEN, triageChannel: e.SLACK_TRIAGE_CHANNEL, apiUrl: e.SLACK_API_URL.endsWith('/') ? e.SLACK_API_URL : `${e.SLACK_API_URL}/` };
  }
  let teams: TeamsConfig | undefined;
  const teamsOn = e.TEAMS_ENABLED ?? (Boolean(e.MICROSOFT_APP_ID) || !production);
  if (teamsOn) {
    if (production && !e.MICROSOFT_APP_ID) {
      throw new ConfigError('invalid configuration:\n  MICROSOFT_APP_ID: required when the Teams adapter is on and NODE_ENV=production (without it Bot Framework authentication is silently disabled); set it, or TEAMS_ENABLED=false');
    }
    if (e.MICROSOFT_APP_ID && e.MICROSOFT_APP_TYPE !== 'UserAssignedMSI' && !e.MICROSOFT_APP_PASSWORD && !e.MICROSOFT_APP_CERT_THUMBPRINT) {
      throw new ConfigError('invalid configuration:\n  MICROSOFT_APP_PASSWORD: required with MICROSOFT_APP_ID (or MICROSOFT_APP_CERT_THUMBPRINT + MICROSOFT_APP_CERT_KEY, or MICROSOFT_APP_TYPE=UserAssignedMSI)');
    }
    if (e.MICROSOFT_APP_TYPE === 'SingleTenant' && !e.MICROSOFT_APP_TENANT_ID) {
      throw new ConfigError('invalid configuration:\n  MICROSOFT_APP_TENANT_ID: required when MICROSOFT_APP_TYPE=SingleTenant');
    }
    teams = {
      appId: e.MICROSOFT_APP_ID ?? '', appPassword: e.MICROSOFT_APP_PASSWORD, tenantId: e.MICROSOFT_APP_TENANT_ID, appType: e.MICROSOFT_APP_TYPE,
      certThumbprint: e.MICROSOFT_APP_CERT_THUMBPRINT, certKey: e.MICROSOFT_APP_CERT_KEY, triageChannel: e.TEAMS_TRIAGE_CHANNEL, serviceUrl: e.TEAMS_SERVICE_URL,
    };
  }
  if (production && e.CATALOGUE_SOURCE === 'folder') throw new ConfigError('invalid configuration:\n  CATALOGUE_SOURCE: "folder" is for local development; in production the catalogue changes through errand catalogue import/publish');
  if (Boolean(e.VAULT_ADDR) !== Boolean(e.VAULT_TOKEN)) throw new ConfigError('invalid configuration:\n  VAULT_ADDR and VAULT_TOKEN must be set together (for vault: secret references)');
  const email = emailConfig(e, Object.keys(cleaned), production);
  return {
    connectors: {
      file: e.CONNECTORS_FILE, secretEnv: env, vault: e.VAULT_ADDR && e.VAULT_TOKEN ? { endpoint: e.VAULT_ADDR, token: e.VAULT_TOKEN } : undefined,
      alertRecipients: (e.ALERT_RECIPIENTS ?? '').split(',').map((x) => x.trim().toLowerCase()).filter(Boolean), syntheticEveryMs: e.SYNTHETIC_CHECK_EVERY_MS,
    },
    teams,
    slack,
    port: e.PORT,
    database: e.DATABASE_URL ? { kind: 'postgres', url: e.DATABASE_URL } : { kind: 'pglite', dataDir: path.join(e.DATA_DIR, 'pglite') },
    catalogueDir: e.CATALOGUE_DIR,
    catalogueSource: e.CATALOGUE_SOURCE,
    governanceFile: e.GOVERNANCE_FILE,
    modelFile: e.MODEL_FILE,
    directorySeed: e.DIRECTORY_SEED,
    checks: { assetsSeed: e.ASSETS_SEED, compatibilityFile: e.COMPATIBILITY_FILE },
    nluThreshold: e.NLU_THRESHOLD,
    nlpModelDir: e.NLP_MODEL_DIR,
    intentsDir: e.INTENTS_DIR,
    apiKeys,
    webChatDemo: e.WEB_CHAT_DEMO && !production,
    logLevel: e.LOG_LEVEL,
    jobs: { concurrency: e.JOB_CONCURRENCY, lockLifetimeMs: e.JOB_LOCK_LIFETIME_MS, processEveryMs: e.JOB_PROCESS_EVERY_MS },
    production,
    observability: { metricsToken: e.METRICS_TOKEN, alertsFile: e.ALERTS_FILE, alertWebhookUrl: e.ALERT_WEBHOOK_URL },
    admin: { sessionTtlHours: e.ADMIN_SESSION_TTL_HOURS, publicUrl: e.ADMIN_PUBLIC_URL?.replace(/\/+$/, '') },
    email,
  };
}

/** The e-mail channel's settings (undefined without EMAIL_ADDRESS); every inconsistency names its variables. */
function emailConfig(e: z.infer<typeof envSchema>, given: string[], production: boolean): EmailConfig | undefined {
  const fail = (msg: string): never => { throw new ConfigError(`invalid configuration:\n  ${msg}`); };
  const others = given.filter((k) => k.startsWith('EMAIL_') && k !== 'EMAIL_ADDRESS');
  if (!e.EMAIL_ADDRESS) {
    if (others.length) fail(`EMAIL_ADDRESS: required when other EMAIL_* variables are set (${others.join(', ')}); it turns the e-mail channel on`);
    return undefined;
  }
  if (!e.EMAIL_SMTP_HOST) fail('EMAIL_SMTP_HOST: required with EMAIL_ADDRESS (errand answers by e-mail through this relay)');
  if (Boolean(e.EMAIL_SMTP_USER) !== Boolean(e.EMAIL_SMTP_PASSWORD)) fail('EMAIL_SMTP_USER and EMAIL_SMTP_PASSWORD must be set together');
  if (!e.EMAIL_IMAP_HOST && e.EMAIL_LISTEN_PORT === undefined) fail('EMAIL_IMAP_HOST or EMAIL_LISTEN_PORT: at least one is required with EMAIL_ADDRESS (how mail reaches errand)');
  if (e.EMAIL_IMAP_HOST && (!e.EMAIL_IMAP_USER || !e.EMAIL_IMAP_PASSWORD)) fail('EMAIL_IMAP_USER and EMAIL_IMAP_PASSWORD: required with EMAIL_IMAP_HOST');
  if (Boolean(e.EMAIL_LISTEN_USER) !== Boolean(e.EMAIL_LISTEN_PASSWORD)) fail('EMAIL_LISTEN_USER and EMAIL_LISTEN_PASSWORD must be set together');
  if (Boolean(e.EMAIL_LISTEN_TLS_KEY) !== Boolean(e.EMAIL_LISTEN_TLS_CERT)) fail('EMAIL_LISTEN_TLS_KEY and EMAIL_LISTEN_TLS_CERT must be set together (PEM files)');
  if (e.EMAIL_REQUIRE_AUTH && !e.EMAIL_TRUSTED_AUTHSERV_IDS) fail('EMAIL_TRUSTED_AUTHSERV_IDS: required with EMAIL_REQUIRE_AUTH=true (whose Authentication-Results to believe)');
  const publicUrl = (e.EMAIL_PUBLIC_URL ?? e.ADMIN_PUBLIC_URL ?? (production ? undefined : `http://localhost:${e.PORT}`))
    ?? fail('EMAIL_PUBLIC_URL: required with EMAIL_ADDRESS when NODE_ENV=production (the base URL of approval links), or set ADMIN_PUBLIC_URL');
  const list = (v: string | undefined) => (v ?? '').split(',').map((x) => x.trim().toLowerCase()).filter(Boolean);
  const aliases = list(e.EMAIL_ALIASES);
  const bad = aliases.find((a) => !z.email().safeParse(a).success);
  if (bad) fail(`EMAIL_ALIASES: "${bad}" is not an e-mail address`);
  return {
    address: e.EMAIL_ADDRESS.toLowerCase(), fromName: e.EMAIL_FROM_NAME, aliases,
    smtp: { host: e.EMAIL_SMTP_HOST!, port: e.EMAIL_SMTP_PORT, secure: e.EMAIL_SMTP_SECURE, user: e.EMAIL_SMTP_USER, password: e.EMAIL_SMTP_PASSWORD },
    imap: e.EMAIL_IMAP_HOST ? {
      host: e.EMAIL_IMAP_HOST, port: e.EMAIL_IMAP_PORT, secure: e.EMAIL_IMAP_SECURE, user: e.EMAIL_IMAP_USER!, password: e.EMAIL_IMAP_PASSWORD!,
      mailbox: e.EMAIL_IMAP_MAILBOX, processedMailbox: e.EMAIL_IMAP_PROCESSED_MAILBOX, pollMs: e.EMAIL_IMAP_POLL_MS,
    } : undefined,
    listen: e.EMAIL_LISTEN_PORT !== undefined ? {
      host: e.EMAIL_LISTEN_HOST, port: e.EMAIL_LISTEN_PORT, user: e.EMAIL_LISTEN_USER, password: e.EMAIL_LISTEN_PASSWORD,
      tlsKeyFile: e.EMAIL_LISTEN_TLS_KEY, tlsCertFile: e.EMAIL_LISTEN_TLS_CERT,
    } : undefined,
    maxMessageBytes: e.EMAIL_MAX_MESSAGE_BYTES,
    maxAttachmentBytes: Math.min(e.EMAIL_MAX_ATTACHMENT_BYTES, e.EMAIL_MAX_MESSAGE_BYTES),
    unknownSenders: e.EMAIL_UNKNOWN_SENDERS,
    trustedAuthservIds: list(e.EMAIL_TRUSTED_AUTHSERV_IDS),
    requireAuth: e.EMAIL_REQUIRE_AUTH,
    notify: e.EMAIL_NOTIFY,
    publicUrl: publicUrl.replace(/\/+$/, ''),
    linkTtlHours: e.EMAIL_LINK_TTL_HOURS,
    maxReceived: e.EMAIL_MAX_RECEIVED,
  };
}

