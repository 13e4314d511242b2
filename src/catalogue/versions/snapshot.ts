/**
 * The content of a catalogue version as files: every `dialogs/*.yaml` (items and the `_`-prefixed
 * configuration files), `intents/*.yaml`, and a reference to the trained intent model (its SHA-256,
 * not its bytes). Reading a folder, hashing, writing a version back to the folder layout (export) and
 * materialising it in a temporary folder (so the existing loaders validate it exactly as they
 * validate dialogs/) all live here.
 *
 * Folder layout (what `errand catalogue export` writes and `errand catalogue import` reads):
 *
 *   <root>/dialogs/<item id>.yaml          one catalogue item per file
 *   <root>/dialogs/_connectors.yaml        backends (CONNECTORS_FILE at run time)
 *   <root>/dialogs/_governance.yaml        segregation of duties, conflicts, retention (GOVERNANCE_FILE)
 *   <root>/dialogs/_alerts.yaml            alert rules (ALERTS_FILE)
 *   <root>/dialogs/_<anything>.yaml        kept verbatim (versioned and exported, not interpreted here)
 *   <root>/intents/<intent>.yaml           NLU training examples
 *
 * The content hash covers every file's exact text and the model's SHA-256, so export → import gives
 * the same hash, and any edit (even a comment) gives a new one.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Config } from '../../config.js';
import { PROJECT_ROOT } from '../../config.js';

export const DIALOGS = 'dialogs';
export const INTENTS = 'intents';
export const CONNECTORS_PATH = `${DIALOGS}/_connectors.yaml`;
export const GOVERNANCE_PATH = `${DIALOGS}/_governance.yaml`;
export const ALERTS_PATH = `${DIALOGS}/_alerts.yaml`;

/** The trained intent model a version was made with: where it was, its SHA-256 and the classes it knows. */
export interface ModelRef { path: string; sha256: string; bytes: number; classes: string[] }

/** A catalogue version's content as files (raw text by layout path) plus the model reference. */
export interface CatalogueSnapshot { files: Record<string, string>; model: ModelRef | null }

/** Where the parts of a catalogue are on disk. */
export interface FolderPaths {
  dialogsDir: string;
  /** Missing folder = no intents in the version. */
  intentsDir: string | undefined;
  connectorsFile: string;
  governanceFile: string;
  alertsFile: string;
  /** Missing file = no model reference. */
  modelFile: string | undefined;
}

const YAML = /\.ya?ml$/;

/** The paths the service itself uses (CATALOGUE_DIR, CONNECTORS_FILE, GOVERNANCE_FILE, ALERTS_FILE, INTENTS_DIR, MODEL_FILE). */
export function pathsFromConfig(config: Config): FolderPaths {
  return {
    dialogsDir: config.catalogueDir, intentsDir: config.intentsDir, connectorsFile: config.connectors.file,
    governanceFile: config.governanceFile, alertsFile: config.observability.alertsFile, modelFile: config.modelFile,
  };
}

/**
 * The folder layout under `root` (`root/dialogs`, `root/intents`); when `root` has no `dialogs/`
 * sub-folder it is taken as the dialogs folder itself (intents from a sibling `intents/`, if any).
 * The model file is `root/models/intent-model.json` when present, else `modelFile`.
 */
export async function layoutPaths(root: string, modelFile?: string): Promise<FolderPaths> {
  const isDir = async (p: string) => (await stat(p).catch(() => undefined))?.isDirectory() ?? false;
  const isFile = async (p: string) => (await stat(p).catch(() => undefined))?.isFile() ?? false;
  const nested = await isDir(path.join(root, DIALOGS));
  const base = nested ? root : path.dirname(path.resolve(root));
  const dialogsDir = nested ? path.join(root, DIALOGS) : root;
  const intentsDir = path.join(base, INTENTS);
  const ownModel = path.join(base, 'models', 'intent-model.json');
  return {
    dialogsDir, intentsDir: (await isDir(intentsDir)) ? intentsDir : undefined,
    connectorsFile: path.join(dialogsDir, '_connectors.yaml'), governanceFile: path.join(dialogsDir, '_governance.yaml'), alertsFile: path.join(dialogsDir, '_alerts.yaml'),
    modelFile: nested && (await isFile(ownModel)) ? ownModel : modelFile,
  };
}

async function readIfExists(file: string): Promise<string | undefined> {
  try { return await readFile(file, 'utf8'); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'EISDIR') return undefined;
    throw e;
  }
}

async function yamlFiles(dir: string | undefined): Promise<string[]> {
  if (!dir) return [];
  try { return (await readdir(dir)).filter((n) => YAML.test(n)).sort(); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/** Reads the model file's reference (undefined file or a missing file = null). */
export async function modelRefOf(file: string | undefined): Promise<ModelRef | null> {
  if (!file) return null;
  let bytes: Buffer;
  try { bytes = await readFile(file); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  let classes: string[] = [];
  try {
    const j = JSON.parse(bytes.toString('utf8')) as { classes?: unknown };
    if (Array.isArray(j.classes)) classes = j.classes.filter((c): c is string => typeof c === 'string');
  } catch { /* not JSON: the hash still identifies it */ }
  const rel = path.relative(PROJECT_ROOT, path.resolve(file));
  return { path: rel.startsWith('..') || path.isAbsolute(rel) ? path.resolve(file) : rel, sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length, classes };
}

/**
 * Reads a catalogue from disk: every `*.yaml` of the dialogs folder and of the intents folder, with
 * the connectors, governance and alerts files taken from their own paths (they win over files of
 * the same name in the dialogs folder; a missing one is simply absent).
 */
export async function readFolderSnapshot(p: FolderPaths): Promise<CatalogueSnapshot> {
  const files: Record<string, string> = {};
  for (const name of await yamlFiles(p.dialogsDir)) {
    const text = await readIfExists(path.join(p.dialogsDir, name));
    if (text !== undefined) files[`${DIALOGS}/${name}`] = text;
  }
  for (const [key, file] of [[CONNECTORS_PATH, p.connectorsFile], [GOVERNANCE_PATH, p.governanceFile], [ALERTS_PATH, p.alertsFile]] as const) {
    delete files[key];
    delete files[key.replace(/\.yaml$/, '.yml')];
    const text = await readIfExists(file);
    if (text !== undefined) files[key] = text;
  }
  for (const name of await yamlFiles(p.intentsDir)) {
    const text = await readIfExists(path.join(p.intentsDir!, name));
    if (text !== undefined) files[`${INTENTS}/${name}`] = text;
  }
  return { files: sortedFiles(files), model: await modelRefOf(p.modelFile) };
}

/** The files in path order (stable JSON, stable hash input). */
export function sortedFiles(files: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.keys(files).sort().map((k) => [k, files[k]!]));
}

/** SHA-256 (hex) of the content: every file's path and exact text, in path order, and the model's hash. */
export function contentHash(s: CatalogueSnapshot): string {
  const h = createHash('sha256').update('errand-catalogue-v1\n');
  for (const k of Object.keys(s.files).sort()) {
    const text = s.files[k]!;
    h.update(`${k}\n${Buffer.byteLength(text)}\n`).update(text).update('\n');
  }
  h.update(`model\n${s.model?.sha256 ?? '-'}\n`);
  return h.digest('hex');
}

/** Item files (`dialogs/<id>.yaml`, not `_`-prefixed). */
export const isItemPath = (k: string): boolean => k.startsWith(`${DIALOGS}/`) && !path.basename(k).startsWith('_') && YAML.test(k);
export const isIntentPath = (k: string): boolean => k.startsWith(`${INTENTS}/`) && YAML.test(k);

/**
 * Writes a snapshot in the folder layout under `root` (creating `dialogs/` and `intents/`), and
 * removes `*.yaml` files there that the snapshot does not have, so the folder then holds exactly
 * that version (other files are left alone). Returns the paths written and removed.
 */
export async function writeSnapshot(s: CatalogueSnapshot, root: string): Promise<{ written: string[]; removed: string[] }> {
  const written: string[] = [];
  const removed: string[] = [];
  const hasIntents = Object.keys(s.files).some(isIntentPath);
  for (const sub of [DIALOGS, ...(hasIntents ? [INTENTS] : [])]) {
    const dir = path.join(root, sub);
    await mkdir(dir, { recursive: true });
    for (const name of await yamlFiles(dir)) {
      if (!(`${sub}/${name}` in s.files)) { await unlink(path.join(dir, name)); removed.push(`${sub}/${name}`); }
    }
  }
  for (const [k, text] of Object.entries(s.files)) {
    if (k.includes('..') || path.isAbsolute(k)) throw new Error(`refusing to write ${k}: not a path inside the layout`);
    const file = path.join(root, k);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, text, 'utf8');
    written.push(k);
  }
  return { written, removed };
}

/** Writes the snapshot to a fresh temporary folder; `dispose` removes it. */
export async function materialise(s: CatalogueSnapshot, label = 'catalogue'): Promise<{ root: string; paths: FolderPaths; dispose(): Promise<void> }> {
  const root = await mkdtemp(path.join(tmpdir(), `errand-${label}-`));
  await writeSnapshot(s, root);
  const dialogsDir = path.join(root, DIALOGS);
  return {
    root,
    paths: {
      dialogsDir, intentsDir: Object.keys(s.files).some(isIntentPath) ? path.join(root, INTENTS) : undefined,
      connectorsFile: path.join(root, CONNECTORS_PATH), governanceFile: path.join(root, GOVERNANCE_PATH), alertsFile: path.join(root, ALERTS_PATH), modelFile: undefined,
    },
    dispose: () => rm(root, { recursive: true, force: true }),
  };
}
