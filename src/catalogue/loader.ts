/**
 * Loads the service catalogue from `dialogs/*.yaml`. Every problem is reported with the file, the
 * path inside it and what was expected; nothing is partially loaded: callers get either a whole
 * catalogue or the full list of errors.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { catalogueItemSchema, type CatalogueItem } from './schema.js';
import { crossCheckItem } from './validate-item.js';

export interface CatalogueError { file: string; path: string; message: string }

export class CatalogueInvalidError extends Error {
  readonly code = 'CATALOGUE_INVALID';
  constructor(readonly errors: CatalogueError[]) {
    super(`The catalogue is invalid (${errors.length} problem${errors.length === 1 ? '' : 's'}):\n${formatCatalogueErrors(errors)}`);
  }
}

/** One line per error: `file: path: message`. */
export function formatCatalogueErrors(errors: CatalogueError[]): string {
  return errors.map((e) => `  ${e.file}: ${e.path || '(root)'}: ${e.message}`).join('\n');
}

export interface Catalogue {
  items: Map<string, CatalogueItem>;
  get(id: string): CatalogueItem | undefined;
  list(): CatalogueItem[];
}

export function makeCatalogue(items: CatalogueItem[]): Catalogue {
  const map = new Map(items.map((i) => [i.id, i]));
  return { items: map, get: (id) => map.get(id), list: () => [...map.values()] };
}

function zodPath(p: PropertyKey[]): string {
  return p.map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i === 0 ? '' : '.'}${String(k)}`)).join('');
}

/** Parses and validates one catalogue file's text. */
export function parseCatalogueFile(file: string, text: string, connectorOps: Set<string> = new Set()): { item?: CatalogueItem; errors: CatalogueError[] } {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return { errors: doc.errors.map((e) => ({ file, path: e.linePos ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '', message: `not valid YAML: ${e.message.split('\n')[0]}` })) };
  }
  let raw: unknown;
  try {
    // an alias to an anchor that does not exist, or too many aliases (an "alias bomb"), throws here
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    return { errors: [{ file, path: '', message: `not valid YAML: ${(e as Error).message.split('\n')[0]}` }] };
  }
  const parsed = catalogueItemSchema.safeParse(raw);
  if (!parsed.success) {
    return { errors: parsed.error.issues.map((i) => ({ file, path: zodPath(i.path), message: i.message })) };
  }
  const errors: CatalogueError[] = crossCheckItem(parsed.data, connectorOps).map((i) => ({ file, ...i }));
  const expectedId = path.basename(file).replace(/\.ya?ml$/, '');
  if (parsed.data.id !== expectedId) errors.push({ file, path: 'id', message: `id "${parsed.data.id}" must match the file name "${expectedId}"` });
  return errors.length ? { errors } : { item: parsed.data, errors: [] };
}

/** Loads every `*.yaml` in `dir`; throws CatalogueInvalidError listing all problems. */
export async function loadCatalogue(dir: string, connectorOps: Set<string> = new Set()): Promise<Catalogue> {
  const { items, errors } = await checkCatalogueDir(dir, connectorOps);
  if (errors.length) throw new CatalogueInvalidError(errors);
  return makeCatalogue(items);
}

/** Like loadCatalogue but returns the errors instead of throwing (for `errand catalogue validate`). */
export async function checkCatalogueDir(dir: string, connectorOps: Set<string> = new Set()): Promise<{ items: CatalogueItem[]; errors: CatalogueError[] }> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => /\.ya?ml$/.test(n) && !n.startsWith('_')).sort();
  } catch (e) {
    return { items: [], errors: [{ file: dir, path: '', message: `cannot read the catalogue folder: ${(e as Error).message}` }] };
  }
  const items: CatalogueItem[] = [];
  const errors: CatalogueError[] = [];
  if (names.length === 0) errors.push({ file: dir, path: '', message: 'no catalogue files (*.yaml) found' });
  for (const name of names) {
    const res = parseCatalogueFile(name, await readFile(path.join(dir, name), 'utf8'), connectorOps);
    errors.push(...res.errors);
    if (res.item) items.push(res.item);
  }
  return { items, errors };
}
