/**
 * Builds the whole service from a Config: database (migrated, directory seeded), catalogue,
 * classifier, job queue, services and the HTTP app. `main.ts` calls this and listens; tests call
 * it with a throwaway database. Nothing here reads process.env.
 */
import { hostname } from 'node:os';
import express from 'express';
import type { Catalogue } from './catalogue/loader.js';
import { bootCatalogue } from './catalogue/versions/boot.js';
import { catalogueAdminRouter } from './catalogue/versions/admin-routes.js';
import type { LiveCatalogue } from './catalogue/versions/live.js';
import type { CatalogueVersionStore } from './catalogue/versions/store.js';
import type { Config } from './config.js';
import { ConversationService, type IntentClassifier } from './conversation/conversation.service.js';
import { openDatabase, type Database } from './db/database.js';
import { migrate } from './db/migrate.js';
import { seedDirectory } from './directory/seed.js';
import { syncRoleGroups } from './directory/directory.repository.js';
import { builtinActions } from './fulfilment/action-registry.js';
import type { Action } from './fulfilment/action.port.js';
import { FULFIL_RETRY_JOB, FulfilmentRunner } from './fulfilment/fulfilment-runner.js';
import { BreakerRegistry, DEFAULT_BREAKER, type BreakerConfig } from './fulfilment/engine/breakers.js';
import { ActionInvoker } from './fulfilment/engine/invoker.js';
import { DEFAULT_RETRY } from './fulfilment/engine/step-policy.js';
import type { Connector } from './fulfilment/connectors/connector.port.js';
import { OverrideService } from './fulfilment/overrides.service.js';
import type { ConnectorSet } from './fulfilment/connectors/registry.js';
import { createSecretResolver } from './fulfilment/connectors/secrets.js';
import { SyntheticChecks } from './fulfilment/synthetic-checks.js';
import { audit } from './audit/audit.repository.js';
import { PolicyError } from './governance/policy.js';
import { GrantService } from './governance/grants.service.js';
import { ApprovalTimers } from './requests/approval-timers.js';
import { purgeExpiredPersonalData } from './governance/retention.js';
import { AccessReviewService } from './governance/access-reviews.js';
import { syncIdentities } from './directory/identity-sync.js';
import { apiRouter } from './http/api.routes.js';
import { adminApiRouter } from './http/admin-api.routes.js';
import { AdminAuth } from './http/admin/auth.js';
import { adminDashboardRouter } from './http/admin/routes.js';
import { buildHttpApp } from './http/server.js';
import { webChatRouter } from './channels/web/web-chat.routes.js';
import { createSlackAdapter, type SlackAdapter } from './channels/slack/slack.adapter.js';
import { createSlackConnector } from './channels/slack/slack-connector.js';
import { createTeamsAdapter, type TeamsAdapter } from './channels/teams/teams.adapter.js';
import { createEmailAdapter, type EmailAdapter } from './channels/email/email.adapter.js';
import { createAgendaQueue } from './jobs/agenda-queue.js';
import type { JobQueue } from './jobs/job-queue.port.js';
import { createLogger, type Logger } from './log.js';
import { createClassifier, DEFAULT_THRESHOLD, loadIntents, loadModel, type IntentModel } from './nlu/classifier.js';
import { loadEmbedder } from './nlu/embeddings.js';
import { createEnsembleClassifier } from './nlu/ensemble.js';
import { strandedRequests } from './requests/request.repository.js';
import { FULFIL_JOB, RequestService } from './requests/request.service.js';
import { TriageService } from './triage/triage.service.js';
import { Metrics } from './observability/metrics.js';
import { metricsRouter } from './observability/metrics-route.js';
import { instrumentQueue } from './observability/instrumented-queue.js';
import { AlertService } from './observability/alerts.js';
import { CatalogueInvalidError } from './catalogue/loader.js';
import { CheckService } from './requests/checks/check-service.js';
import { loadCompatibility } from './requests/checks/compatibility.js';
import { seedAssets } from './requests/checks/assets.js';
import { validateCheckReferences } from './requests/checks/validate.js';
import { licencesRouter } from './http/licences.routes.js';
import { ChangeService, CHANGE_PUBLISH_JOB } from './catalogue/change/service.js';
import { armChangeControl } from './catalogue/change/repository.js';
import { changeRouter } from './http/change.routes.js';
import { createLifecycle, type Lifecycle } from './catalogue/lifecycle/index.js';
import { validateSnapshot } from './catalogue/versions/validate.js';
import { lifecycleRouter } from './http/lifecycle.routes.js';

export const SWEEP_JOB = 'sweep-stranded-requests';
export const SYNTHETIC_JOB = 'synthetic-checks';
export const GRANTS_JOB = 'jit-grants';
export const APPROVAL_TIMERS_JOB = 'approval-timers';
export const RETENTION_JOB = 'retention-purge';
export const REVIEW_START_JOB = 'access-review-campaign';
export const IDENTITY_SYNC_JOB = 'identity-sync';
export const REVIEW_REMIND_JOB = 'access-review-reminders';
export const RECONCILE_JOB = 'grants-reconcile';
export const ALERTS_JOB = 'evaluate-alerts';
export const LICENCES_JOB = 'licence-seats';
/** Publishes approved catalogue changes whose scheduled time has come (src/catalogue/change). */
export const CHANGES_DUE_JOB = 'catalogue-changes-due';
/** Removes deprecated catalogue items whose notice period has passed (src/catalogue/lifecycle/). */
export const LIFECYCLE_JOB = 'catalogue-lifecycle';
/** Re-routes pending approvals whose approver left (src/catalogue/lifecycle/org.ts). */
export const REROUTE_JOB = 'reroute-leaver-approvals';

export interface AppOptions {
  config: Config;
  log?: Logger;
  now?: () => Date;
  /** Extra or replacement fulfilment actions (connectors; tests). */
  actions?: Action[];
  /** An already-open database (tests share one). */
  db?: Database;
  /** Fulfilment attempts per step before failing over to a person. */
  maxAttempts?: number;
  retryDelayMs?: number;
  /** Breaker settings for every backend (tests use small windows). */
  breaker?: Partial<BreakerConfig> | ((backend: string) => Partial<BreakerConfig>);
  /** Extra connectors (besides dialogs/_connectors.yaml), e.g. in tests. */
  connectors?: Connector[];
  workerName?: string;
  /** How often this instance checks for a newly published catalogue version (default 10 s). */
  catalogueRefreshMs?: number;
  /**
   * Turn change control on for the database at start-up (default true): from then on every publish
   * and rollback on it needs an approved change request (src/catalogue/change). false only for
   * tests of the version store that predate change control.
   */
  changeControl?: boolean;
}

export interface App {
  config: Config;
  db: Database;
  log: Logger;
  /** Always the current catalogue version's items (a publish or rollback switches it in place). */
  catalogue: Catalogue;
  /** Catalogue versions: the store (publish, rollback, ...) and the live catalogue (current, at(n), refresh). */
  catalogueVersions: { store: CatalogueVersionStore; live: LiveCatalogue };
  queue: JobQueue;
  requests: RequestService;
  triage: TriageService;
  conversation: ConversationService;
  runner: FulfilmentRunner;
  overrides: OverrideService;
  breakers: BreakerRegistry;
  synthetic: SyntheticChecks;
  grants: GrantService;
  approvalTimers: ApprovalTimers;
  reviews: AccessReviewService;
  /** Prometheus registry of this instance (GET /metrics). */
  metrics: Metrics;
  /** Alert rules; `evaluate()` runs one pass (the ALERTS_JOB does it periodically). */
  alerts: AlertService;
  /** Pre-validation (catalogue `checks:`), licence pools and the waitlist; `settle()` is the LICENCES_JOB's pass. */
  checks: CheckService;
  /** Catalogue change requests: create, decide, publish (publishDue is the CHANGES_DUE_JOB's pass), freezes. */
  changes: ChangeService;
  /** Catalogue lifecycle: usage, deprecations (removeDue is the LIFECYCLE_JOB), org changes, re-routing (REROUTE_JOB). */
  lifecycle: Lifecycle;
  /** Runs the identity sync now (undefined when none is configured). */
  syncDirectory(): Promise<Awaited<ReturnType<typeof syncIdentities>> | undefined>;
  /** Purges personal data past its retention period; returns how many requests. */
  purge(): Promise<number>;
  connectors: ConnectorSet;
  http: express.Express;
  /** The Slack adapter, when SLACK_* is configured. */
  slack: SlackAdapter | undefined;
  /** The Teams adapter (on with MICROSOFT_APP_ID, or in development for the Emulator). */
  teams: TeamsAdapter | undefined;
  /** The e-mail channel, when EMAIL_ADDRESS is configured. */
  email: EmailAdapter | undefined;
  /** Re-enqueues fulfilment of requests whose job was lost; returns how many. */
  sweep(): Promise<number>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The lexical model alone, or — when NLP_MODEL_DIR names a local embedding model — the ensemble of
 * both (the embedding head is trained on intents/ at start-up; see src/nlu/ensemble.ts).
 */
async function buildClassifier(model: IntentModel, config: Config, log: Logger): Promise<IntentClassifier> {
  const decision = { threshold: config.nluThreshold ?? DEFAULT_THRESHOLD };
  if (!config.nlpModelDir) return createClassifier(model, decision);
  const embedder = await loadEmbedder(config.nlpModelDir); // throws naming the missing file
  const ensemble = await createEnsembleClassifier(model, embedder, await loadIntents(config.intentsDir), decision);
  log.info({ embeddingModel: embedder.modelId, dimension: embedder.dimension, weight: ensemble.embeddingWeight }, 'intent classifier: lexical + embedding ensemble');
  return ensemble;
}

export async function createApp(o: AppOptions): Promise<App> {
  const { config } = o;
  const log = o.log ?? createLogger(config.logLevel);
  const now = o.now ?? (() => new Date());
  const secrets = createSecretResolver({ env: config.connectors.secretEnv, ...(config.connectors.vault ? { vault: config.connectors.vault } : {}) });
  const compatibility = await loadCompatibility(config.checks.compatibilityFile); // throws naming the file and path
  const model = await loadModel(config.modelFile);
  const classifier: IntentClassifier = await buildClassifier(model, config, log);

  const db = o.db ?? await openDatabase(config.database);
  // The catalogue is the database's current version (dialogs/ is imported as version 1 on the first
  // start; an invalid folder still stops start-up with every error listed): src/catalogue/versions/boot.ts
  const boot = await migrate(db)
    .then(async () => { if (o.changeControl !== false) await armChangeControl(db, 'service start-up'); })
    .then(() => bootCatalogue({
      db, config, log, secrets, extraConnectors: [...(config.slack ? [createSlackConnector(config.slack)] : []), ...(o.connectors ?? [])],
      checkItems: (items) => validateCheckReferences(items, compatibility, config.checks.compatibilityFile),
    }))
    .catch(async (e: unknown) => { if (!o.db) await db.close().catch(() => undefined); throw e; });
  const connectorSet: ConnectorSet = boot.connectorSet;
  const catalogue = boot.live.view;
  const policy = boot.policy;
  // Change control: every publish/rollback through this store needs an approved change request (src/catalogue/change/guard.ts)
  const changes: ChangeService = new ChangeService({
    db, store: boot.store, now, log, queue: { enqueue: (n, d, eo) => queue.enqueue(n, d, eo) },
    extraOperations: () => connectorSet.connectors.filter((c) => c.type === 'slack' || (o.connectors ?? []).includes(c)).flatMap((c) => Object.keys(c.operations).map((op) => `${c.id}.${op}`)),
  });
  boot.store.useBeforeChange(changes.guard);
  await seedDirectory(db, config.directorySeed);
  await seedAssets(db, config.checks.assetsSeed);
  await db.transaction((tx) => syncRoleGroups(tx, policy.roleGroups));

  const workerId = o.workerName ?? `${hostname()}:${process.pid}`;
  const metrics = new Metrics({ db, log });
  const queue = instrumentQueue(createAgendaQueue({
    pool: db.pool, name: workerId, concurrency: config.jobs.concurrency, lockLifetimeMs: config.jobs.lockLifetimeMs, processEvery: config.jobs.processEveryMs, log,
  }), metrics);
  // invoker and requests are built below; the closures run only when a check or a seat needs them
  const checks: CheckService = new CheckService({ db, tables: compatibility, log, invoke: (a, i, c) => invoker.invoke(a, i, c), resume: (id) => requests.resumeWaitlisted(id) });
  const lifecycle = createLifecycle({
    db, store: boot.store, catalogue: () => boot.live.current(), now, log, extraOperations: () => connectorSet.operations,
    validate: (s) => validateSnapshot(s, { extraOperations: [...connectorSet.operations], lenientAlerts: true, checkItems: (items) => validateCheckReferences(items, compatibility, config.checks.compatibilityFile) }),
  });
  const requests = new RequestService({ db, queue, now, alertRecipients: config.connectors.alertRecipients, policy, metrics, checks, catalogueVersion: () => boot.live.currentVersion(), intakeRefusal: (id) => lifecycle.intakeRefusal(id) });
  const triage = new TriageService(db, () => catalogue);
  const overrides = new OverrideService(db, (id) => requests.enqueueFulfilment(id), policy);
  const reviews = new AccessReviewService(db, now);
  const conversation = new ConversationService({ db, catalogue: () => boot.live.current(), catalogueAt: (v) => boot.live.at(v), classifier: () => classifier, requests, triage, now, log, overrides, reviews, metrics, checks, lifecycle: lifecycle.gate, changes });
  const maxAttempts = o.maxAttempts ?? 3;
  const breakers = new BreakerRegistry((backend) => ({ ...DEFAULT_BREAKER, ...(connectorSet.breaker.get(backend) ?? {}), ...(typeof o.breaker === 'function' ? o.breaker(backend) : o.breaker ?? {}) }), (backend, state) => {
    log.warn({ backend, state }, 'circuit breaker state changed');
    metrics.breakerChanged(backend, state);
    void audit(db, { actor: 'system', action: `breaker.${state}`, subject: backend }).catch(() => undefined);
  });
  metrics.watchBreakers(() => breakers.states());
  const invoker = new ActionInvoker(builtinActions(o.actions), new Map(connectorSet.connectors.map((c) => [c.id, c])), breakers, connectorSet.limiters);
  const grants = new GrantService(db, invoker, now, (id) => checks.requestEnded(id));
  const runner = new FulfilmentRunner({
    db, invoker, queue, log, grants, workerId, leaseMs: Math.max(1000, config.jobs.lockLifetimeMs - 500), stepTimeoutMs: 60_000,
    defaultRetry: { ...DEFAULT_RETRY, maxAttempts, ...(o.retryDelayMs !== undefined ? { backoffMs: o.retryDelayMs } : {}) },
    connectorRetry: (backend) => connectorSet.retry.get(backend), metrics, checks,
  });
  const synthetic = new SyntheticChecks(db, connectorSet.connectors, (id) => connectorSet.synthetic.get(id) ?? config.connectors.syntheticEveryMs, config.connectors.alertRecipients, log);
  queue.define(SYNTHETIC_JOB, async () => { await synthetic.runDue(); });
  queue.define(GRANTS_JOB, async () => { await grants.tick(); });
  const approvalTimers = new ApprovalTimers(db, now, metrics);
  queue.define(APPROVAL_TIMERS_JOB, async () => { await approvalTimers.tick(); });
  const purge = () => purgeExpiredPersonalData(db, policy, now());
  queue.define(RETENTION_JOB, async () => { await purge(); });
  queue.define(REVIEW_START_JOB, async () => { await reviews.start('system'); });
  const identitySync = policy.identitySync;
  if (identitySync && !invoker.has(identitySync.action)) throw new PolicyError(`${config.governanceFile}: identitySync.action "${identitySync.action}" is not a configured connector operation`);
  const syncDirectory = async () => {
    if (!identitySync) return undefined;
    return syncIdentities(db, invoker, identitySync).catch(async (e: Error) => {
      log.error({ err: e.message }, 'identity sync failed');
      await audit(db, { actor: 'identity-sync', action: 'directory.sync-failed', subject: identitySync.action, detail: { error: e.message } });
      throw e;
    });
  };
  queue.define(IDENTITY_SYNC_JOB, async () => { await syncDirectory(); });
  queue.define(REVIEW_REMIND_JOB, async () => { await reviews.remind(); });
  queue.define(RECONCILE_JOB, async () => { await grants.reconcile(); });
  const fulfil = (data: { requestId: string }, ctx: Parameters<typeof runner.run>[1]) => runner.run(data.requestId, ctx);
  // Retries of steps are scheduled by the engine; Agenda's own retry covers unexpected errors (database down).
  queue.define<{ requestId: string }>(FULFIL_JOB, fulfil, { retries: 5, retryDelayMs: o.retryDelayMs ?? 5000 });
  queue.define<{ requestId: string }>(FULFIL_RETRY_JOB, fulfil, { retries: 5, retryDelayMs: o.retryDelayMs ?? 5000 });
  const sweep = async () => {
    const ids = await strandedRequests(db, 60);
    for (const id of ids) await requests.enqueueFulfilment(id);
    if (ids.length) log.warn({ count: ids.length }, 're-enqueued stranded fulfilments');
    return ids.length;
  };
  queue.define(SWEEP_JOB, async () => { await sweep(); });
  const alertFile = boot.alerts; // the served catalogue version's _alerts.yaml
  if (alertFile.error) log.error({ file: config.observability.alertsFile }, alertFile.error); // the defaults stay in force; on-call is told
  const alerts = new AlertService({ db, log, now, config: alertFile.config, configError: alertFile.error, configFile: alertFile.file });
  queue.define(ALERTS_JOB, async () => { await alerts.evaluate(); });
  queue.define(LICENCES_JOB, async () => { await checks.settle(); });
  queue.define<{ changeId: string }>(CHANGE_PUBLISH_JOB, async (d) => { await changes.runScheduled(d.changeId); });
  queue.define(CHANGES_DUE_JOB, async () => { await changes.publishDue(); });
  queue.define(LIFECYCLE_JOB, async () => { await lifecycle.removeDue(); });
  queue.define(REROUTE_JOB, async () => { await lifecycle.rerouteApprovals(); });

  const slack = config.slack ? createSlackAdapter({ config: config.slack, db, catalogue: () => catalogue, conversation, requests, log, now, metrics }) : undefined;

  const teams = config.teams ? createTeamsAdapter({ config: config.teams, db, catalogue: () => catalogue, conversation, requests, log, now, metrics }) : undefined;

  const email = config.email ? createEmailAdapter({ config: config.email, db, catalogue: () => catalogue, conversation, requests, log, now, metrics }) : undefined;

  const adminAuth = new AdminAuth({ db, catalogue: () => catalogue, now, sessionTtlHours: config.admin.sessionTtlHours, secure: config.production });
  const http = buildHttpApp({
    db, queue, log,
    backends: async () => {
      const h = await synthetic.health();
      const states = breakers.states();
      const ids = new Set([...Object.keys(h), ...Object.keys(states), ...connectorSet.connectors.map((c) => c.id)]);
      return Object.fromEntries([...ids].map((id) => [id, { breaker: states[id] ?? 'closed', ...(h[id] ? { ok: h[id]!.ok, checkedAt: h[id]!.checkedAt, error: h[id]!.error } : {}) }]));
    },
    rawRouters: slack ? [slack.router] : [],
    routers: [
      metricsRouter(metrics, config.observability.metricsToken),
      ...(teams ? [teams.router] : []),
      ...(email ? [email.router] : []),
      ...(config.webChatDemo ? [webChatRouter({ db, conversation, requests, triage, catalogue: () => catalogue })] : []),
      express.Router().use('/api', apiRouter({ db, catalogue: () => boot.live.current(), requests, conversation, overrides, grants, approvalTimers, reviews, apiKeys: config.apiKeys })),
      express.Router().use('/admin/api/licences', licencesRouter({ db, licences: checks.licences, settle: () => checks.settle(), apiKeys: config.apiKeys, sessionActor: adminAuth.apiActor })),
      express.Router().use('/admin/api/lifecycle', lifecycleRouter({ db, lifecycle, apiKeys: config.apiKeys, sessionActor: adminAuth.apiActor })),
      express.Router().use('/admin/api/changes', changeRouter({ changes, apiKeys: config.apiKeys, sessionActor: adminAuth.apiActor })),
      express.Router().use('/admin/api/catalogue', catalogueAdminRouter({ db, store: boot.store, apiKeys: config.apiKeys, sessionActor: adminAuth.apiActor })),
      express.Router().use('/admin/api', adminApiRouter({ db, catalogue: () => catalogue, apiKeys: config.apiKeys, now, sessionActor: adminAuth.apiActor })),
      express.Router().use('/admin', adminDashboardRouter({ db, catalogue: () => catalogue, auth: adminAuth, publicUrl: config.admin.publicUrl, production: config.production, now })),
    ],
  });

  return {
    metrics, alerts, checks, changes, lifecycle, config, db, log, catalogue, catalogueVersions: { store: boot.store, live: boot.live }, queue, requests, triage, conversation, runner, overrides, breakers, synthetic, grants, approvalTimers, purge, reviews, syncDirectory, connectors: connectorSet, http, sweep, slack, teams, email,
    async start() {
      boot.live.startPolling(o.catalogueRefreshMs ?? 10_000);
      await queue.start();
      await queue.every('1 minute', SWEEP_JOB);
      await queue.every('1 minute', GRANTS_JOB);
      await queue.every('1 minute', LICENCES_JOB);
      await queue.every('1 minute', CHANGES_DUE_JOB);
      await queue.every('5 minutes', APPROVAL_TIMERS_JOB);
      await queue.every('1 day', RECONCILE_JOB);
      await queue.every('1 day', RETENTION_JOB);
      await queue.every('1 hour', LIFECYCLE_JOB);
      await queue.every('1 day', REROUTE_JOB);
      await queue.every(`${policy.accessReviewEveryDays} days`, REVIEW_START_JOB);
      if (identitySync) await queue.every(`${identitySync.everyMinutes} minutes`, IDENTITY_SYNC_JOB);
      await queue.every('1 day', REVIEW_REMIND_JOB);
      await queue.every(alertFile.config.everyMinutes === 1 ? '1 minute' : `${alertFile.config.everyMinutes} minutes`, ALERTS_JOB);
      if (connectorSet.connectors.some((c) => c.check)) await queue.every('30 seconds', SYNTHETIC_JOB);
      await slack?.start();
      await teams?.start();
      await email?.start();
    },
    async stop() {
      boot.live.stopPolling();
      await slack?.stop();
      await teams?.stop();
      await email?.stop();
      await queue.stop();
      for (const c of connectorSet.connectors) await c.close?.().catch(() => undefined);
      if (!o.db) await db.close();
    },
  };
}
