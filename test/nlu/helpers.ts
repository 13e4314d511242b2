import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (test/nlu/../..). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const INTENTS_DIR = path.join(ROOT, 'intents');
export const MODEL_FILE = path.join(ROOT, 'models', 'intent-model.json');
