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
  MODEL_FILE: z.string().default(path.join(PROJECT_ROOT, 'models', 'intent-model.json')),
  DIRECTORY_SEED: z.string().default(path.join(PROJECT_ROOT, 'seed', 'people.yaml')),
  NLU_THRESHOLD: z.coerce.number().min(0).max(1).optional(),
  API_KEYS: z.string().default('dev-api-key'),
  WEB_CHAT_DEMO: bool.default(true),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  JOB_CONCURRENCY: z.coerce.number().int().min(1).max(100).default(5),
  JOB_LOCK_LIFETIME_MS: z.coerce.number().int().min(1000).default(5 * 60_000),
  JOB_PROCESS_EVERY_MS: z.coerce.number().int().min(50).max(600_000).default(2000),
  NODE_ENV: z.string().default('development'),
});

export interface Config {
  port: number;
  database: { kind: 'postgres'; url: string } | { kind: 'pglite'; dataDir: string };
  catalogueDir: string;
  modelFile: string;
  directorySeed: string;
  nluThreshold: number | undefined;
  /** Keys accepted in `Authorization: Bearer <key>` / `X-API-Key` on /api. */
  apiKeys: string[];
  /** The demo web chat lets anyone act as any directory person: development only. */
  webChatDemo: boolean;
  logLevel: string;
  jobs: { concurrency: number; lockLifetimeMs: number; processEveryMs: number };
  production: boolean;
}

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
}

/** Parses configuration from an environment map; throws ConfigError naming each bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message} (got ${JSON.stringify(cleaned[String(i.path[0])])})`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  const apiKeys = e.API_KEYS.split(',').map((k) => k.trim()).filter(Boolean);
  if (production && apiKeys.includes('dev-api-key')) throw new ConfigError('invalid configuration:\n  API_KEYS: the default development key is not allowed when NODE_ENV=production');
  return {
    port: e.PORT,
    database: e.DATABASE_URL ? { kind: 'postgres', url: e.DATABASE_URL } : { kind: 'pglite', dataDir: path.join(e.DATA_DIR, 'pglite') },
    catalogueDir: e.CATALOGUE_DIR,
    modelFile: e.MODEL_FILE,
    directorySeed: e.DIRECTORY_SEED,
    nluThreshold: e.NLU_THRESHOLD,
    apiKeys,
    webChatDemo: e.WEB_CHAT_DEMO && !production,
    logLevel: e.LOG_LEVEL,
    jobs: { concurrency: e.JOB_CONCURRENCY, lockLifetimeMs: e.JOB_LOCK_LIFETIME_MS, processEveryMs: e.JOB_PROCESS_EVERY_MS },
    production,
  };
}
