/** Opens the configured database (DATABASE_URL or the embedded one) for one CLI command, and closes it. */
import { loadConfig, type Config } from '../config.js';
import { openDatabase, type Database } from '../db/database.js';
import { migrate } from '../db/migrate.js';

export async function withConfiguredDatabase<T>(fn: (db: Database) => Promise<T>, o: { migrate?: boolean } = {}): Promise<T> {
  const db = await openDatabase(loadConfig().database);
  try {
    if (o.migrate) await migrate(db);
    return await fn(db);
  } finally {
    await db.close();
  }
}

/** The value after `--name` in a command's arguments. */
export function optionOf(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
}

/** Arguments that are neither options nor the values of the options named in `valued` (e.g. `--reason`). */
export function positionals(args: readonly string[], valued: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (valued.has(args[i]!)) { i++; continue; }
    if (args[i]!.startsWith('--')) continue;
    out.push(args[i]!);
  }
  return out;
}

/** Slack's connector operations when Slack is configured (workflows may call them), as `slack.<op>`. */
export async function slackOperations(config: Config): Promise<string[]> {
  if (!config.slack) return [];
  const { createSlackConnector } = await import('../channels/slack/slack-connector.js');
  const c = createSlackConnector(config.slack);
  return Object.keys(c.operations).map((op) => `${c.id}.${op}`);
}
