/**
 * Validates a catalogue (a folder, or a snapshot materialised in a temporary folder) with the same
 * loaders the service uses at start-up — loadConnectors, checkCatalogueDir, loadPolicy,
 * loadAlertConfig, loadIntents — so a version is accepted exactly when dialogs/ would be, and new
 * checks added to those loaders apply to versions too. On top: runbook (`exceptions:`) references,
 * and warnings for intents or model classes without an item.
 *
 * Every problem is collected (nothing stops at the first one) as `file: path: message`, with file
 * names in the folder layout (`vpn-access.yaml`, `_connectors.yaml`, `intents/x.yaml`), never the
 * temporary folder.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { checkCatalogueDir, type CatalogueError } from '../loader.js';
import type { CatalogueItem } from '../schema.js';
import { ConnectorConfigError, loadConnectors, type ConnectorSet } from '../../fulfilment/connectors/registry.js';
import type { Connector, SecretResolver } from '../../fulfilment/connectors/connector.port.js';
import { loadPolicy, PolicyError, type GovernancePolicy } from '../../governance/policy.js';
import { loadAlertConfig } from '../../observability/alert-rules.js';
import { IntentDataError, loadIntents } from '../../nlu/intents.js';
import { LEXICON_FILE, LexiconError, loadLexicon } from '../../nlu/lexicon.js';
import { OUT_OF_SCOPE, type IntentExamples } from '../../nlu/model.js';
import { materialise, readFolderSnapshot, type CatalogueSnapshot, type FolderPaths } from './snapshot.js';

/** The parsed and validated documents of a version (stored as `documents`). */
export interface CatalogueDocuments {
  /** Every item, parsed with the catalogue schema (defaults filled in). */
  items: CatalogueItem[];
  intents: IntentExamples[];
  /** `_connectors.yaml` as parsed YAML (secret references only, never values); null = no file. */
  connectors: Record<string, unknown> | null;
  /** `_governance.yaml` as the effective policy; null = no file (defaults). */
  governance: GovernancePolicy | null;
  /** `_alerts.yaml` as parsed YAML; null = no file, or invalid when alerts are lenient. */
  alerts: Record<string, unknown> | null;
}

export interface ValidationOptions {
  /** Resolves secret references of connectors; validation uses a placeholder (secrets are not checked). */
  secrets?: SecretResolver;
  /** Operations of connectors that are not in `_connectors.yaml` (Slack, tests). */
  extraOperations?: Iterable<string>;
  /** An invalid `_alerts.yaml` is a warning (the service then uses the default rules), not an error. */
  lenientAlerts?: boolean;
  /** Further checks of the items (e.g. pre-validation references to compatibility tables). */
  checkItems?: (items: CatalogueItem[]) => CatalogueError[];
}

export interface ValidationResult {
  /** Set when there are no errors. */
  documents?: CatalogueDocuments;
  errors: CatalogueError[];
  warnings: string[];
}

const placeholderSecrets: SecretResolver = async () => 'validation-placeholder';

/** Cross-references of runbook entries: `appliesTo` names workflow steps of the item. */
export function runbookIssues(item: CatalogueItem): { path: string; message: string }[] {
  const steps = new Set(item.workflow.map((s) => s.id));
  const out: { path: string; message: string }[] = [];
  (item.exceptions ?? []).forEach((x, i) => {
    (x.appliesTo ?? []).forEach((id, k) => {
      if (!steps.has(id)) out.push({ path: `exceptions[${i}].appliesTo[${k}]`, message: `unknown workflow step "${id}"; expected one of ${[...steps].join(', ')}` });
    });
  });
  return out;
}

/** Problem lines of a loader error's message (`  path: message` lines after the first). */
function problemLines(message: string): string[] {
  return message.split('\n').slice(1).map((l) => l.trim()).filter(Boolean);
}

function splitLine(line: string): { path: string; message: string } {
  const i = line.indexOf(': ');
  return i > 0 ? { path: line.slice(0, i), message: line.slice(i + 2) } : { path: '', message: line };
}

/**
 * Validates the catalogue at `p` (its files must be readable); returns the documents or every
 * problem. Connectors are built with placeholder secrets and closed again.
 */
export async function validateFolder(p: FolderPaths, o: ValidationOptions = {}): Promise<ValidationResult> {
  const errors: CatalogueError[] = [];
  const warnings: string[] = [];
  const names = { connectors: path.basename(p.connectorsFile), governance: path.basename(p.governanceFile), alerts: path.basename(p.alertsFile) };

  // connectors: their operations are what workflow steps may call
  let set: ConnectorSet | undefined;
  let connectors: Record<string, unknown> | null = null;
  const connectorsText = await readFile(p.connectorsFile, 'utf8').catch(() => undefined);
  try {
    set = await loadConnectors(p.connectorsFile, o.secrets ?? placeholderSecrets);
    if (connectorsText !== undefined) connectors = (parse(connectorsText) as Record<string, unknown> | null) ?? {};
  } catch (e) {
    if (e instanceof ConnectorConfigError) errors.push(...e.problems.map((l) => ({ file: names.connectors, ...splitLine(l) })));
    else errors.push({ file: names.connectors, path: '', message: (e as Error).message });
  } finally {
    for (const c of set?.connectors ?? []) await c.close?.().catch(() => undefined);
  }
  const ops = new Set([...(set?.operations ?? []), ...(o.extraOperations ?? [])]);

  // items
  const { items, errors: itemErrors } = await checkCatalogueDir(p.dialogsDir, ops);
  errors.push(...itemErrors.map((e) => (e.file === p.dialogsDir ? { ...e, file: 'dialogs/' } : e)));
  for (const item of items) for (const i of runbookIssues(item)) errors.push({ file: `${item.id}.yaml`, ...i });
  if (o.checkItems && !itemErrors.length) errors.push(...o.checkItems(items));

  // governance
  let governance: GovernancePolicy | null = null;
  try {
    const exists = (await readFile(p.governanceFile, 'utf8').catch(() => undefined)) !== undefined;
    const policy = await loadPolicy(p.governanceFile);
    governance = exists ? policy : null;
  } catch (e) {
    if (e instanceof PolicyError) errors.push(...problemLines(e.message).map((l) => ({ file: names.governance, ...splitLine(l) })));
    else errors.push({ file: names.governance, path: '', message: (e as Error).message });
  }

  // alerts
  let alerts: Record<string, unknown> | null = null;
  const alertsText = await readFile(p.alertsFile, 'utf8').catch(() => undefined);
  if (alertsText !== undefined) {
    const r = await loadAlertConfig(p.alertsFile, { people: [] });
    if (r.error) {
      const lines = problemLines(r.error);
      if (o.lenientAlerts) warnings.push(`${names.alerts} is invalid (the default alert rules apply): ${lines.join('; ')}`);
      else errors.push(...(lines.length ? lines : [r.error]).map((l) => ({ file: names.alerts, ...splitLine(l) })));
    } else {
      alerts = (parse(alertsText) as Record<string, unknown> | null) ?? {};
    }
  }

  // intents (training data): optional
  let intents: IntentExamples[] = [];
  if (p.intentsDir) {
    try {
      intents = await loadIntents(p.intentsDir);
    } catch (e) {
      if (e instanceof IntentDataError) errors.push(...e.errors.map((x) => ({ file: x.file === p.intentsDir ? 'intents/' : `intents/${x.file}`, path: x.path, message: x.message })));
      else errors.push({ file: 'intents/', path: '', message: (e as Error).message });
    }
    try {
      await loadLexicon(p.intentsDir);
    } catch (e) {
      if (e instanceof LexiconError) errors.push(...e.problems.map((x) => ({ file: `intents/${LEXICON_FILE}`, path: '', message: x })));
      else errors.push({ file: `intents/${LEXICON_FILE}`, path: '', message: (e as Error).message });
    }
  }
  const ids = new Set(items.map((i) => i.id));
  const orphans = intents.map((d) => d.intent).filter((x) => x !== OUT_OF_SCOPE && !ids.has(x));
  if (orphans.length) warnings.push(`intents without a catalogue item: ${orphans.join(', ')}`);
  const untrained = items.map((i) => i.id).filter((id) => intents.length && !intents.some((d) => d.intent === id));
  if (untrained.length) warnings.push(`items without intent examples (only reachable by menu or triage): ${untrained.join(', ')}`);

  if (errors.length) return { errors, warnings };
  return { documents: { items, intents, connectors, governance, alerts }, errors, warnings };
}

/** Validates a snapshot by writing it to a temporary folder and validating that. */
export async function validateSnapshot(s: CatalogueSnapshot, o: ValidationOptions = {}): Promise<ValidationResult> {
  const tmp = await materialise(s, 'validate');
  try {
    const r = await validateFolder(tmp.paths, o);
    if (s.model && r.documents) {
      const known = new Set(s.model.classes);
      const missing = s.model.classes.length ? r.documents.items.map((i) => i.id).filter((id) => !known.has(id)) : [];
      if (missing.length) r.warnings.push(`the intent model (${s.model.path}) was not trained on: ${missing.join(', ')} (run errand train)`);
    }
    return r;
  } finally {
    await tmp.dispose();
  }
}

/** Reads and validates a folder in one go (for `import` and `diff folder`). */
export async function readAndValidate(p: FolderPaths, o: ValidationOptions = {}): Promise<{ snapshot: CatalogueSnapshot } & ValidationResult> {
  const snapshot = await readFolderSnapshot(p);
  return { snapshot, ...(await validateSnapshot(snapshot, o)) };
}

/** Operations of connectors that exist besides `_connectors.yaml`. */
export function operationsOf(connectors: Connector[]): string[] {
  return connectors.flatMap((c) => Object.keys(c.operations).map((op) => `${c.id}.${op}`));
}
