/**
 * Start-up: decides which catalogue the service runs on, and loads the run-time parts of it.
 *
 * - No version in the database yet: the folder (CATALOGUE_DIR, CONNECTORS_FILE, GOVERNANCE_FILE,
 *   ALERTS_FILE, INTENTS_DIR, MODEL_FILE) is validated — exactly as before versions existed: an
 *   invalid folder stops start-up with every error listed — and published as version 1
 *   (author "system", reason "initial import"). Two instances starting together import once.
 * - The folder equals the current version (same content hash): nothing to do.
 * - The folder differs:
 *     CATALOGUE_SOURCE=database (default): the database is the system of record. A warning says
 *       what differs and how to publish the folder; the service runs on the current version, whose
 *       files are written to a temporary folder just long enough for the loaders to read them.
 *     CATALOGUE_SOURCE=folder (development only): the folder is validated and published as a new
 *       version (author "system", reason "CATALOGUE_SOURCE=folder: ..."), so editing dialogs/ and
 *       restarting works as before, with every change still recorded as a version.
 *
 * Items follow the current version while running (LiveCatalogue); connectors, the governance
 * policy and the alert rules are read here, once: a version changing them applies on restart.
 */
import { loadCatalogue, CatalogueInvalidError, type Catalogue, type CatalogueError } from '../loader.js';
import type { CatalogueItem } from '../schema.js';
import type { Config } from '../../config.js';
import type { Database } from '../../db/database.js';
import type { Connector, SecretResolver } from '../../fulfilment/connectors/connector.port.js';
import { loadConnectors, type ConnectorSet } from '../../fulfilment/connectors/registry.js';
import { loadPolicy, type GovernancePolicy } from '../../governance/policy.js';
import type { Logger } from '../../log.js';
import { loadAlertConfig, type AlertConfig } from '../../observability/alert-rules.js';
import { diffCatalogues } from './diff.js';
import { LiveCatalogue } from './live.js';
import { contentHash, materialise, pathsFromConfig, readFolderSnapshot, type FolderPaths } from './snapshot.js';
import { CatalogueVersionStore, type CatalogueVersion } from './store.js';
import { operationsOf, validateFolder } from './validate.js';

export interface CatalogueBoot {
  store: CatalogueVersionStore;
  live: LiveCatalogue;
  /** The connectors of the served version, plus the extra ones (Slack, tests). */
  connectorSet: ConnectorSet;
  policy: GovernancePolicy;
  /** The alert rules of the served version (invalid = defaults + error, as loadAlertConfig). */
  alerts: { config: AlertConfig; error?: string; file: string };
  /** The version served at start-up. */
  version: CatalogueVersion;
  /** The folder's content differs from the served version. */
  folderDiffers: boolean;
}

export interface BootOptions {
  db: Database;
  config: Config;
  log: Logger;
  secrets: SecretResolver;
  /** Connectors that are not in _connectors.yaml (Slack, tests); added to the set. */
  extraConnectors?: Connector[];
  /** Further checks of the items (e.g. pre-validation references); run before a folder is published and on the served version. */
  checkItems?: (items: CatalogueItem[]) => CatalogueError[];
}

interface Runtime { connectorSet: ConnectorSet; catalogue: Catalogue; policy: GovernancePolicy; alerts: { config: AlertConfig; error?: string } }

/** Loads the run-time parts from `p` with the service's own loaders (throwing their errors). */
async function loadRuntime(p: FolderPaths, o: BootOptions): Promise<Runtime> {
  const connectorSet = await loadConnectors(p.connectorsFile, o.secrets);
  try {
    for (const c of o.extraConnectors ?? []) {
      connectorSet.connectors.push(c);
      for (const op of Object.keys(c.operations)) connectorSet.operations.add(`${c.id}.${op}`);
    }
    const catalogue = await loadCatalogue(p.dialogsDir, connectorSet.operations);
    const policy = await loadPolicy(p.governanceFile);
    const alerts = await loadAlertConfig(p.alertsFile, { people: o.config.connectors.alertRecipients, webhook: o.config.observability.alertWebhookUrl });
    return { connectorSet, catalogue, policy, alerts };
  } catch (e) {
    for (const c of connectorSet.connectors) if (!(o.extraConnectors ?? []).includes(c)) await c.close?.().catch(() => undefined);
    throw e;
  }
}

export async function bootCatalogue(o: BootOptions): Promise<CatalogueBoot> {
  const { db, config, log } = o;
  let live: LiveCatalogue | undefined;
  const store = new CatalogueVersionStore(db, { onChange: async () => { await live?.refresh(); } });
  const paths = pathsFromConfig(config);
  const folder = await readFolderSnapshot(paths);
  const folderHash = contentHash(folder);
  const extraOperations = operationsOf(o.extraConnectors ?? []);
  let current = await store.current();
  let runtime: Runtime | undefined;

  if (!current || (config.catalogueSource === 'folder' && current.contentHash !== folderHash)) {
    runtime = await loadRuntime(paths, o); // an invalid folder stops start-up here, as it always did
    const checked = await validateFolder(paths, { extraOperations, lenientAlerts: true, ...(o.checkItems ? { checkItems: o.checkItems } : {}) });
    if (!checked.documents) {
      for (const c of runtime.connectorSet.connectors) if (!(o.extraConnectors ?? []).includes(c)) await c.close?.().catch(() => undefined);
      throw new CatalogueInvalidError(checked.errors);
    }
    for (const w of checked.warnings) log.info({ catalogue: config.catalogueDir }, `catalogue: ${w}`);
    const initial = !current;
    const res = await store.publishSnapshot(folder, checked.documents, {
      author: 'system', reason: initial ? 'initial import' : `CATALOGUE_SOURCE=folder: ${config.catalogueDir} changed`, onlyIfEmpty: initial,
    });
    if (res.created) log.info({ version: res.version.number, previous: res.previous?.number ?? null, items: res.version.itemCount }, `catalogue: ${config.catalogueDir} published as version ${res.version.number}${initial ? ' (initial import)' : ''}`);
    current = (await store.get(res.version.number))!;
  }

  const folderDiffers = current.contentHash !== folderHash;
  if (!folderDiffers) {
    runtime ??= await loadRuntime(paths, o);
  } else {
    if (runtime) for (const c of runtime.connectorSet.connectors) if (!(o.extraConnectors ?? []).includes(c)) await c.close?.().catch(() => undefined);
    const checked = await validateFolder(paths, { extraOperations, lenientAlerts: true });
    let what: string;
    if (checked.documents) {
      const d = diffCatalogues({ label: `v${current.number}`, documents: current.documents, files: current.files, model: current.model }, { label: 'folder', documents: checked.documents, files: folder.files, model: folder.model });
      const parts = [
        ...d.items.added.map((x) => `+${x.id}`), ...d.items.removed.map((x) => `-${x.id}`), ...d.items.changed.map((x) => `~${x.id}`),
        ...(['connectors', 'governance', 'alerts', 'model'] as const).filter((k) => d.config[k].changed).map((k) => `${k} changed`),
        ...(d.intents.added.length || d.intents.removed.length || d.intents.changed.length ? ['intents changed'] : []),
      ];
      what = parts.length ? parts.join(', ') : 'formatting or comments only';
    } else {
      what = `the folder is not a valid catalogue (${checked.errors.length} problem(s), see errand catalogue validate)`;
    }
    log.warn({ version: current.number, folder: config.catalogueDir, differences: what },
      `catalogue: ${config.catalogueDir} (with intents and model) differs from catalogue version ${current.number}; serving version ${current.number}, the database is the system of record. `
      + `Differences: ${what}. To publish the folder: errand catalogue import --reason "..." then errand catalogue publish <draft> --reason "..."; `
      + 'for local development CATALOGUE_SOURCE=folder lets the folder win.');
    const m = await materialise({ files: current.files, model: current.model }, `catalogue-v${current.number}`);
    try {
      runtime = await loadRuntime(m.paths, o);
    } catch (e) {
      if (e instanceof Error) e.message = e.message.split(m.root).join(`(catalogue version ${current.number})`);
      throw e;
    } finally {
      await m.dispose();
    }
    if (runtime.alerts.error) runtime.alerts.error = runtime.alerts.error.split(m.root).join(`(catalogue version ${current.number})`);
  }

  const extra = o.checkItems?.(runtime.catalogue.list()) ?? [];
  if (extra.length) {
    for (const c of runtime.connectorSet.connectors) if (!(o.extraConnectors ?? []).includes(c)) await c.close?.().catch(() => undefined);
    throw new CatalogueInvalidError(extra);
  }
  live = new LiveCatalogue(store, current, log);
  return {
    store, live, connectorSet: runtime.connectorSet, policy: runtime.policy, version: current, folderDiffers,
    alerts: { ...runtime.alerts, file: folderDiffers ? `catalogue version ${current.number}: _alerts.yaml` : config.observability.alertsFile },
  };
}
