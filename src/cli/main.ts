/**
 * `errand <command>`: catalogue validate | train | classify. Each command returns an exit code.
 */
import path from 'node:path';
import { checkCatalogueDir, formatCatalogueErrors } from '../catalogue/loader.js';

const ROOT = path.resolve(new URL('../..', import.meta.url).pathname);

const USAGE = `usage: errand <command>
  catalogue validate [dir]     check every dialogs/*.yaml file; exit 1 with the errors
  train                        train the intent model from intents/ into models/
  classify "text"              print the ranked catalogue items with confidences
  classify --jsonl             one message per line on stdin -> one JSON result per line
`;

export async function runCli(argv: string[]): Promise<number> {
  const [cmd, sub, ...rest] = argv;
  if (cmd === 'catalogue' && sub === 'validate') {
    const dir = path.resolve(rest[0] ?? path.join(ROOT, 'dialogs'));
    const { items, errors } = await checkCatalogueDir(dir);
    if (errors.length) {
      process.stderr.write(`catalogue invalid: ${errors.length} problem(s)\n${formatCatalogueErrors(errors)}\n`);
      return 1;
    }
    process.stdout.write(`catalogue ok: ${items.length} items (${items.map((i) => i.id).join(', ')})\n`);
    return 0;
  }
  if (cmd === 'train' || cmd === 'classify') {
    const { runNluCommand } = await import('./nlu-commands.js');
    return runNluCommand(cmd, argv.slice(1), ROOT);
  }
  process.stderr.write(USAGE);
  return cmd === undefined || cmd === 'help' || cmd === '--help' ? 0 : 2;
}
