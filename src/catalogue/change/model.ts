/**
 * Change requests of the catalogue: the stored shapes (tables `change_requests`,
 * `change_approvals`, `change_freezes`, `change_control`; migration 021) and their row mappers.
 */
import type { CatalogueDiff } from '../versions/diff.js';
import type { DryRunResult } from './dry-run.js';
import type { ImpactAssessment } from './impact.js';

export type ChangeKind = 'publish' | 'rollback' | 'folder';
export type ChangeStatus = 'dry-run-failed' | 'pending-approval' | 'approved' | 'published' | 'denied' | 'failed' | 'cancelled';
export const OPEN_STATUSES: ChangeStatus[] = ['pending-approval', 'approved'];

export interface ChangeRequest {
  id: string;
  ref: string;
  kind: ChangeKind;
  draftVersion: number | null;
  targetVersion: number | null;
  baseVersion: number | null;
  author: string;
  reason: string;
  emergency: boolean;
  scheduledAt: Date | null;
  status: ChangeStatus;
  diff: CatalogueDiff;
  diffText: string;
  impact: ImpactAssessment;
  dryRun: DryRunResult;
  autoApproved: string | null;
  createdAt: Date;
  approvedAt: Date | null;
  publishedVersion: number | null;
  publishedAt: Date | null;
  publishedBy: string | null;
  closedAt: Date | null;
  closedBy: string | null;
  closedReason: string | null;
}

export type ChangeApprovalStatus = 'pending' | 'approved' | 'denied' | 'cancelled';

export interface ChangeApproval {
  id: string;
  changeId: string;
  stepIndex: number;
  stepId: string;
  label: string;
  /** Why this approval is required (owner of which items, which risk, ...). */
  why: string;
  approvers: string[];
  /** Set when nobody matched and the step fell back to a role. */
  fallback: string | null;
  status: ChangeApprovalStatus;
  decidedBy: string | null;
  decidedAt: Date | null;
  reason: string | null;
  createdAt: Date;
}

export interface Freeze {
  id: number;
  startsAt: Date;
  endsAt: Date;
  reason: string;
  createdBy: string;
  createdAt: Date;
  removedAt: Date | null;
  removedBy: string | null;
  removedReason: string | null;
}

/** What the version number of a change is about, in words: `publish draft v5`, `roll back to v3`. */
export function whatOf(c: Pick<ChangeRequest, 'kind' | 'draftVersion' | 'targetVersion' | 'baseVersion' | 'publishedVersion'>): string {
  const base = c.baseVersion ? ` (current: v${c.baseVersion})` : '';
  if (c.kind === 'publish') return `publish draft v${c.draftVersion}${base}`;
  if (c.kind === 'rollback') return `roll back to v${c.targetVersion}${base}`;
  return `publish dialogs/ (folder mode) as v${c.publishedVersion ?? '?'}${base}`;
}

export const toChange = (r: Record<string, unknown>): ChangeRequest => ({
  id: r.id as string, ref: r.ref as string, kind: r.kind as ChangeKind,
  draftVersion: (r.draft_version as number | null) ?? null, targetVersion: (r.target_version as number | null) ?? null, baseVersion: (r.base_version as number | null) ?? null,
  author: r.author as string, reason: r.reason as string, emergency: r.emergency as boolean, scheduledAt: (r.scheduled_at as Date | null) ?? null,
  status: r.status as ChangeStatus, diff: r.diff as CatalogueDiff, diffText: r.diff_text as string, impact: r.impact as ImpactAssessment, dryRun: r.dry_run as DryRunResult,
  autoApproved: (r.auto_approved as string | null) ?? null, createdAt: r.created_at as Date, approvedAt: (r.approved_at as Date | null) ?? null,
  publishedVersion: (r.published_version as number | null) ?? null, publishedAt: (r.published_at as Date | null) ?? null, publishedBy: (r.published_by as string | null) ?? null,
  closedAt: (r.closed_at as Date | null) ?? null, closedBy: (r.closed_by as string | null) ?? null, closedReason: (r.closed_reason as string | null) ?? null,
});

export const toApproval = (r: Record<string, unknown>): ChangeApproval => ({
  id: r.id as string, changeId: r.change_id as string, stepIndex: r.step_index as number, stepId: r.step_id as string, label: r.label as string,
  why: r.why as string, approvers: r.approvers as string[], fallback: (r.fallback as string | null) ?? null, status: r.status as ChangeApprovalStatus,
  decidedBy: (r.decided_by as string | null) ?? null, decidedAt: (r.decided_at as Date | null) ?? null, reason: (r.reason as string | null) ?? null, createdAt: r.created_at as Date,
});

export const toFreeze = (r: Record<string, unknown>): Freeze => ({
  id: Number(r.id), startsAt: r.starts_at as Date, endsAt: r.ends_at as Date, reason: r.reason as string, createdBy: r.created_by as string, createdAt: r.created_at as Date,
  removedAt: (r.removed_at as Date | null) ?? null, removedBy: (r.removed_by as string | null) ?? null, removedReason: (r.removed_reason as string | null) ?? null,
});
