/** Opens the configured database (DATABASE_URL or the embedded one) for one CLI command, and closes it. */
import { loadConfig } from '../config.js';
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
