/**
 * The impact assessment of a change, computed by the system (never typed in by the author):
 *
 *  - items touched (added, removed, changed), each with its risk (before and after), owners,
 *    weakened controls (diff.ts `weakened` flags), open requests (in flight, any pinned version)
 *    and the number of requests in the last 30 days;
 *  - items not changed themselves but running on a connector the change modifies;
 *  - governance (`_governance.yaml`) changes, and which of them make segregation of duties,
 *    conflicts, regulatory gates or role membership weaker;
 *  - configuration changes (connectors, alerts, intents, model) and what needs a restart;
 *  - an overall risk (low/medium/high) with its reasons, and whether a security review is required.
 */
import type { Queryable } from '../../db/database.js';
import type { CatalogueItem } from '../schema.js';
import { DEFAULT_POLICY, type GovernancePolicy } from '../../governance/policy.js';
import { stable, type CatalogueDiff } from '../versions/diff.js';

export type Risk = 'low' | 'medium' | 'high';

export interface TouchedItem {
  id: string;
  title: string;
  change: 'added' | 'removed' | 'changed';
  /** The risk after the change (for a removed item: before). */
  risk: Risk;
  riskFrom?: Risk;
  /** Owner before and/or after (both when the owner changes). */
  owners: { team: string; contact: string }[];
  weakened: boolean;
  weakenings: string[];
  /** Open (in-flight) requests of the item, on any catalogue version. */
  openRequests: number;
  openByStatus: Record<string, number>;
  /** Requests of the item submitted in the 30 days before the assessment. */
  volume30d: number;
}

export interface ImpactAssessment {
  assessedAt: string;
  items: TouchedItem[];
  /** Unchanged items whose workflow uses a connector this change adds, removes or modifies. */
  affectedByConnectors: { id: string; title: string; connectors: string[] }[];
  totals: { items: number; openRequests: number; volume30d: number };
  highRisk: string[];
  weakened: boolean;
  weakenedItems: string[];
  governance: { changed: boolean; changes: string[]; weakenings: string[] };
  config: { connectors: string[]; alerts: boolean; model: boolean; intents: string[] };
  restartNeeded: string[];
  risk: Risk;
  riskReasons: string[];
  security: { required: boolean; reasons: string[] };
}

const RISK_LEVEL: Record<Risk, number> = { low: 0, medium: 1, high: 2 };
const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;

/** What changed in the governance policy, and which changes weaken controls. */
export function governanceChanges(before: GovernancePolicy | null | undefined, after: GovernancePolicy | null | undefined): { changes: string[]; weakenings: string[] } {
  const a = before ?? DEFAULT_POLICY;
  const b = after ?? DEFAULT_POLICY;
  const changes: string[] = [];
  const weakenings: string[] = [];
  if (stable(a) === stable(b)) return { changes, weakenings };
  for (const risk of ['low', 'medium', 'high'] as const) {
    const [ra, rb] = [a.segregationOfDuties[risk], b.segregationOfDuties[risk]];
    if (stable(ra) === stable(rb)) continue;
    changes.push(`segregation of duties (${risk}): ${stable(ra ?? 'none')} → ${stable(rb ?? 'none')}`);
    for (const k of ['approverMayFulfil', 'requesterMayFulfil'] as const) {
      if ((ra?.[k] ?? true) === false && (rb?.[k] ?? true) === true) weakenings.push(`segregation of duties (${risk} risk): ${k} false → true`);
    }
  }
  const key = (c: { entitlements: string[] }) => [...c.entitlements].sort().join(' + ');
  const ca = new Map(a.entitlementConflicts.map((c) => [key(c), c]));
  const cb = new Map(b.entitlementConflicts.map((c) => [key(c), c]));
  for (const [k, c] of ca) {
    const n = cb.get(k);
    if (!n) { changes.push(`entitlement conflict ${k} removed`); weakenings.push(`entitlement conflict ${k} (${c.policy}) removed`); continue; }
    if (n.policy !== c.policy) {
      changes.push(`entitlement conflict ${k}: ${c.policy} → ${n.policy}`);
      if (c.policy === 'refuse') weakenings.push(`entitlement conflict ${k}: refuse → ${n.policy}`);
    }
  }
  for (const k of cb.keys()) if (!ca.has(k)) changes.push(`entitlement conflict ${k} added`);
  if (a.securityApproverRole !== b.securityApproverRole) {
    changes.push(`securityApproverRole ${a.securityApproverRole} → ${b.securityApproverRole}`);
    weakenings.push(`security approvals go to role ${b.securityApproverRole} instead of ${a.securityApproverRole}`);
  }
  for (const tag of new Set([...Object.keys(a.regulatory), ...Object.keys(b.regulatory)])) {
    const [ta, tb] = [a.regulatory[tag], b.regulatory[tag]];
    if (stable(ta) === stable(tb)) continue;
    changes.push(`regulatory ${tag}: ${stable(ta ?? 'none')} → ${stable(tb ?? 'none')}`);
    if (ta?.requireApprovalByRole && ta.requireApprovalByRole !== tb?.requireApprovalByRole) weakenings.push(`regulatory ${tag}: approval by ${ta.requireApprovalByRole} ${tb?.requireApprovalByRole ? `replaced by ${tb.requireApprovalByRole}` : 'no longer required'}`);
    if (ta?.retentionDays !== undefined && (tb?.retentionDays === undefined || tb.retentionDays > ta.retentionDays)) weakenings.push(`regulatory ${tag}: personal data kept ${tb?.retentionDays === undefined ? 'without limit' : `${tb.retentionDays} days`} instead of ${ta.retentionDays}`);
  }
  for (const role of new Set([...Object.keys(a.roleGroups), ...Object.keys(b.roleGroups)])) {
    const [ga, gb] = [a.roleGroups[role] ?? [], b.roleGroups[role] ?? []];
    const added = gb.filter((g) => !ga.includes(g));
    const removed = ga.filter((g) => !gb.includes(g));
    if (added.length || removed.length) changes.push(`role ${role} through groups: ${[...added.map((g) => `+${g}`), ...removed.map((g) => `-${g}`)].join(' ')}`);
    if (added.length) weakenings.push(`role ${role} is now also held through group(s) ${added.join(', ')}`);
  }
  if (a.accessReviewEveryDays !== b.accessReviewEveryDays) {
    changes.push(`accessReviewEveryDays ${a.accessReviewEveryDays} → ${b.accessReviewEveryDays}`);
    if (b.accessReviewEveryDays > a.accessReviewEveryDays) weakenings.push(`access reviews every ${b.accessReviewEveryDays} days instead of ${a.accessReviewEveryDays}`);
  }
  if (stable(a.identitySync) !== stable(b.identitySync)) changes.push('identitySync changed');
  if (!changes.length) changes.push('formatting or comments only');
  return { changes, weakenings };
}

/** Connector ids a workflow step, undo or check of `item` calls. */
export function connectorsUsedBy(item: CatalogueItem): string[] {
  const actions = [
    ...item.workflow.flatMap((s) => [s.action, ...(s.undo ? [s.undo.action] : [])]),
    ...(item.checks ?? []).map((c) => (c as { action?: string }).action).filter((a): a is string => typeof a === 'string'),
  ];
  return [...new Set(actions.filter((a) => a.includes('.')).map((a) => a.slice(0, a.indexOf('.'))))].sort();
}

export interface ImpactInput {
  before: { items: CatalogueItem[]; governance: GovernancePolicy | null };
  after: { items: CatalogueItem[]; governance: GovernancePolicy | null };
  diff: CatalogueDiff;
  restartNeeded: string[];
  /** store.openRequestsByVersion() */
  open: { version: number | null; itemId: string; status: string; count: number }[];
  now: Date;
}

/** Requests per item submitted in (now − 30 days, now]. */
export async function volumeLast30Days(q: Queryable, itemIds: string[], now: Date): Promise<Map<string, number>> {
  if (!itemIds.length) return new Map();
  const from = new Date(now.getTime() - 30 * 86_400_000);
  const r = await q.query<{ item_id: string; n: number }>(
    `SELECT item_id, count(*)::int AS n FROM requests WHERE item_id = ANY($1) AND status <> 'draft' AND created_at > $2 AND created_at <= $3 GROUP BY item_id`,
    [itemIds, from, now]);
  return new Map(r.rows.map((x) => [x.item_id, x.n]));
}

export async function assessImpact(q: Queryable, i: ImpactInput): Promise<ImpactAssessment> {
  const { diff } = i;
  const beforeById = new Map(i.before.items.map((x) => [x.id, x]));
  const afterById = new Map(i.after.items.map((x) => [x.id, x]));
  const touched: { id: string; change: TouchedItem['change'] }[] = [
    ...diff.items.added.map((x) => ({ id: x.id, change: 'added' as const })),
    ...diff.items.removed.map((x) => ({ id: x.id, change: 'removed' as const })),
    ...diff.items.changed.map((x) => ({ id: x.id, change: 'changed' as const })),
  ].sort((a, b) => a.id.localeCompare(b.id));
  const volume = await volumeLast30Days(q, touched.map((t) => t.id), i.now);
  const items: TouchedItem[] = touched.map(({ id, change }) => {
    const a = beforeById.get(id);
    const b = afterById.get(id);
    const cur = (b ?? a)!;
    const d = diff.items.changed.find((x) => x.id === id);
    const owners = [a?.owner, b?.owner].filter((o): o is { team: string; contact: string } => Boolean(o))
      .filter((o, k, all) => all.findIndex((x) => x.contact.toLowerCase() === o.contact.toLowerCase()) === k);
    const open = i.open.filter((x) => x.itemId === id);
    const openByStatus: Record<string, number> = {};
    for (const x of open) openByStatus[x.status] = (openByStatus[x.status] ?? 0) + x.count;
    return {
      id, title: cur.title, change, risk: cur.risk as Risk, ...(a && b && a.risk !== b.risk ? { riskFrom: a.risk as Risk } : {}),
      owners, weakened: d?.weakened ?? false, weakenings: d?.weakenings ?? [],
      openRequests: open.reduce((s, x) => s + x.count, 0), openByStatus, volume30d: volume.get(id) ?? 0,
    };
  });

  const changedConnectors = [...diff.config.connectors.added, ...diff.config.connectors.removed, ...diff.config.connectors.modified];
  const touchedIds = new Set(touched.map((t) => t.id));
  const affectedByConnectors = changedConnectors.length ? i.after.items.filter((x) => !touchedIds.has(x.id))
    .map((x) => ({ id: x.id, title: x.title, connectors: connectorsUsedBy(x).filter((c) => changedConnectors.includes(c)) }))
    .filter((x) => x.connectors.length) : [];

  const gov = diff.config.governance.changed ? governanceChanges(i.before.governance, i.after.governance) : { changes: [], weakenings: [] };
  const highRisk = items.filter((x) => x.risk === 'high' || x.riskFrom === 'high').map((x) => x.id);
  const securityReasons = [
    ...(highRisk.length ? [`high-risk item(s): ${highRisk.join(', ')}`] : []),
    ...(diff.weakened ? [`controls weaker in: ${diff.weakenedItems.join(', ')}`] : []),
    ...(diff.config.governance.changed ? [`governance policy changed${gov.weakenings.length ? ' (weaker: ' + gov.weakenings.join('; ') + ')' : ''}`] : []),
  ];
  const totals = { items: items.length, openRequests: items.reduce((s, x) => s + x.openRequests, 0), volume30d: items.reduce((s, x) => s + x.volume30d, 0) };
  const maxItemRisk = items.reduce((m, x) => Math.max(m, RISK_LEVEL[x.risk], x.riskFrom ? RISK_LEVEL[x.riskFrom] : 0), 0);
  const riskReasons: string[] = [...securityReasons];
  if (!riskReasons.length && maxItemRisk === 1) riskReasons.push(`medium-risk item(s): ${items.filter((x) => x.risk === 'medium').map((x) => x.id).join(', ')}`);
  if (changedConnectors.length) riskReasons.push(`connector(s) changed: ${changedConnectors.join(', ')}${affectedByConnectors.length ? ` (used by ${affectedByConnectors.map((x) => x.id).join(', ')})` : ''}`);
  if (totals.openRequests) riskReasons.push(`${plural(totals.openRequests, 'request')} in flight on the touched items (they finish on their own version)`);
  const risk: Risk = securityReasons.length ? 'high' : maxItemRisk >= 1 || changedConnectors.length || i.restartNeeded.length ? 'medium' : 'low';
  return {
    assessedAt: i.now.toISOString(), items, affectedByConnectors, totals, highRisk,
    weakened: diff.weakened || gov.weakenings.length > 0, weakenedItems: diff.weakenedItems,
    governance: { changed: diff.config.governance.changed, ...gov },
    config: {
      connectors: changedConnectors, alerts: diff.config.alerts.changed, model: diff.config.model.changed,
      intents: [...diff.intents.added.map((x) => `+${x}`), ...diff.intents.removed.map((x) => `-${x}`), ...diff.intents.changed.map((x) => `~${x.intent}`)],
    },
    restartNeeded: i.restartNeeded, risk, riskReasons, security: { required: securityReasons.length > 0, reasons: securityReasons },
  };
}

/** The assessment in a few lines, for cards and `errand change show`. */
export function impactLines(a: ImpactAssessment): { label: string; value: string }[] {
  const out: { label: string; value: string }[] = [];
  out.push({ label: 'Risk', value: `${a.risk}${a.riskReasons.length ? `: ${a.riskReasons.join('; ')}` : ''}` });
  out.push({
    label: 'Items touched',
    value: a.items.length ? a.items.map((x) => `${x.id} (${x.change}, ${x.riskFrom ? `${x.riskFrom} → ` : ''}${x.risk} risk${x.weakened ? ', WEAKER' : ''}): ${x.openRequests} in flight, ${x.volume30d} in 30 days`).join('\n') : 'none',
  });
  if (a.affectedByConnectors.length) out.push({ label: 'Also affected (connector changed)', value: a.affectedByConnectors.map((x) => `${x.id} (${x.connectors.join(', ')})`).join(', ') });
  const weak = [...a.items.flatMap((x) => x.weakenings.map((w) => `${x.id}: ${w}`)), ...a.governance.weakenings.map((w) => `governance: ${w}`)];
  if (weak.length) out.push({ label: 'Weaker controls', value: weak.join('\n') });
  if (a.governance.changed) out.push({ label: 'Governance', value: a.governance.changes.join('\n') });
  const cfg = [...(a.config.connectors.length ? [`connectors ${a.config.connectors.join(', ')}`] : []), ...(a.config.alerts ? ['alert rules'] : []), ...(a.config.model ? ['intent model'] : []), ...(a.config.intents.length ? [`intents ${a.config.intents.join(' ')}`] : [])];
  if (cfg.length) out.push({ label: 'Configuration', value: `${cfg.join('; ')}${a.restartNeeded.length ? ` (restart needed for ${a.restartNeeded.join(', ')})` : ''}` });
  return out;
}
