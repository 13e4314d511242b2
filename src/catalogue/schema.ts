/**
 * The shape of one service-catalogue item (`dialogs/<id>.yaml`), as a zod schema.
 *
 * Structural checks live here; cross-references (conditions naming known fields,
 * actions that exist, templates naming known fields) are checked in `validate-item.ts`.
 */
import { z } from 'zod';
import { checksSchema } from '../requests/checks/schema.js';

export const ID_PATTERN = /^[a-z][a-z0-9-]+$/;

/** Field types a dialog can ask for. */
export const FIELD_TYPES = ['text', 'choice', 'multichoice', 'date', 'number', 'boolean', 'person'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

const optionSchema = z.union([
  z.string().min(1),
  z.object({
    value: z.string().min(1),
    label: z.string().min(1).optional(),
    /** Other words that select this option when found in free text. */
    aliases: z.array(z.string().min(1)).optional(),
  }).strict(),
]);

const validationSchema = z.object({
  pattern: z.string().optional(),
  /** Shown to the user when `pattern` does not match, e.g. "an IBAN like DE89 3704 0044 0532 0130 00". */
  patternHint: z.string().optional(),
  min: z.number().optional(),
  max: z.number().optional(),
  minLength: z.number().int().nonnegative().optional(),
  maxLength: z.number().int().positive().optional(),
  /** Dates: must be after today. */
  future: z.boolean().optional(),
  /** Dates: at most this many days from today. */
  maxDaysAhead: z.number().int().positive().optional(),
  /** multichoice: at most this many options. */
  maxItems: z.number().int().positive().optional(),
}).strict();

export const fieldSchema = z.object({
  name: z.string().regex(/^[a-z][a-zA-Z0-9_]*$/, 'a field name: a lower-case letter, then letters, digits or _'),
  type: z.enum(FIELD_TYPES),
  prompt: z.string().min(1),
  label: z.string().min(1).optional(),
  required: z.boolean().default(true),
  options: z.array(optionSchema).min(1).optional(),
  /** Condition over requester attributes and earlier answers; the field is asked only when it holds. */
  when: z.string().min(1).optional(),
  validation: validationSchema.optional(),
  /** Masked in logs, audit, summaries shown to others, and API answers. */
  sensitive: z.boolean().default(false),
  help: z.string().optional(),
}).strict();

const approverSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('manager') }).strict(),
  z.object({ kind: z.literal('role'), role: z.string().min(1) }).strict(),
  z.object({ kind: z.literal('group'), group: z.string().min(1) }).strict(),
  z.object({ kind: z.literal('person'), email: z.string().email() }).strict(),
  z.object({
    kind: z.literal('data-owner'),
    /** The field whose answer selects the owner (e.g. `drive`). */
    field: z.string().min(1),
    /** Answer value → owner's email. */
    owners: z.record(z.string(), z.string().email()),
  }).strict(),
]);

export const approvalStepSchema = z.object({
  id: z.string().regex(ID_PATTERN, 'a step id like "manager" or "data-owner"'),
  label: z.string().min(1).optional(),
  approver: approverSchema,
  when: z.string().min(1).optional(),
  /** Remind the approvers after this many hours without a decision. */
  remindAfterHours: z.number().positive().default(24),
  /** Then add the approvers' managers (or `escalateTo`) as approvers. */
  escalateAfterHours: z.number().positive().default(48),
  escalateTo: z.string().email().optional(),
  /** Finally deny (or cancel) the request with a notice. */
  timeoutHours: z.number().positive().default(168),
  onTimeout: z.enum(['deny', 'cancel']).default('deny'),
  /** `any`: one approver decides for all; `all`: every approver must approve (any one may deny). */
  mode: z.enum(['any', 'all']).default('any'),
  /** Opens together with the previous step (same stage) instead of after it. */
  parallel: z.boolean().default(false),
}).strict();

export const retrySchema = z.object({
  maxAttempts: z.number().int().min(1).max(20).optional(),
  backoffMs: z.number().int().min(0).optional(),
  maxDelayMs: z.number().int().min(0).optional(),
}).strict();

export const workflowStepSchema = z.object({
  id: z.string().regex(ID_PATTERN, 'a step id like "create-account"'),
  action: z.string().min(1),
  /** Values may contain `{{ requester.email }}`, `{{ fields.x }}`, `{{ request.ref }}`, `{{ steps.<id>.<key> }}`. */
  inputs: z.record(z.string(), z.unknown()).default({}),
  when: z.string().min(1).optional(),
  label: z.string().min(1).optional(),
  /** Steps this one waits for. Omitted = the previous step (sequential); `[]` = none (runs in parallel). */
  needs: z.array(z.string().min(1)).optional(),
  retry: retrySchema.optional(),
  timeoutMs: z.number().int().min(100).max(3_600_000).optional(),
  /** Compensation run when the request fails terminally after this step succeeded. */
  undo: z.object({ action: z.string().min(1), inputs: z.record(z.string(), z.unknown()).default({}) }).strict().optional(),
  /** `allowed`: when the backend is unavailable the step becomes a manual task for fulfillers. */
  manual: z.enum(['allowed', 'never']).default('never'),
}).strict();

export const eligibilitySchema = z.object({
  roles: z.array(z.string().min(1)).optional(),
  departments: z.array(z.string().min(1)).optional(),
  employmentTypes: z.array(z.string().min(1)).optional(),
  locations: z.array(z.string().min(1)).optional(),
  /** The requester must be in at least one of these directory groups. */
  groups: z.array(z.string().min(1)).optional(),
}).strict();

const limitSchema = z.object({ max: z.number().int().min(1), windowMinutes: z.number().int().min(1).max(60 * 24 * 31) }).strict();
/** Submission limits: per person for this item, and for the item overall. */
export const throttleSchema = z.object({ perPerson: limitSchema.optional(), perItem: limitSchema.optional() }).strict();

/**
 * A runbook entry (`exceptions:` of an item): what fulfillers do when something goes wrong with this
 * item. Versioned with the item; shown on manual tasks, in triage and in GET /api/requests/:ref.
 */
export const exceptionSchema = z.object({
  title: z.string().min(1),
  /** The situation or symptom, in words (e.g. "the HR system rejects the employee id"). */
  symptom: z.string().min(1),
  /** What to do, in order. */
  steps: z.array(z.string().min(1)).min(1, 'at least one step'),
  link: z.string().url('a URL (https://...)').optional(),
  /** Workflow step ids it is about (shown first on their manual tasks); omitted = the whole item. */
  appliesTo: z.array(z.string().regex(ID_PATTERN, 'a workflow step id')).min(1).optional(),
}).strict();

export const catalogueItemSchema = z.object({
  id: z.string().regex(ID_PATTERN, 'an id matching ^[a-z][a-z0-9-]+$ (lower-case words joined by -)'),
  title: z.string().min(1),
  description: z.string().min(1),
  category: z.string().min(1),
  owner: z.object({ team: z.string().min(1), contact: z.string().email() }).strict(),
  /** Response-time target: a number followed by h (hours) or d (days), e.g. "8h", "2d". */
  responseTime: z.string().regex(/^\d+[hd]$/, 'a duration like "8h" or "2d"'),
  risk: z.enum(['low', 'medium', 'high']),
  regulatory: z.array(z.string().min(1)).default([]),
  fulfilment: z.enum(['automated', 'case']),
  eligibility: eligibilitySchema.optional(),
  fields: z.array(fieldSchema).default([]),
  approvals: z.array(approvalStepSchema).default([]),
  workflow: z.array(workflowStepSchema).min(1, 'at least one workflow step'),
  throttle: throttleSchema.optional(),
  /** Just-in-time access: grants (steps with `undo`) expire after the hours in `durationField`, at most `maxHours`. */
  jit: z.object({
    durationField: z.string().min(1),
    maxHours: z.number().positive().max(24 * 90),
    notifyBeforeMinutes: z.number().int().min(1).default(60),
  }).strict().optional(),
  /** What fulfillers do when automation fails (shown on manual tasks). */
  exceptionProcedure: z.string().min(1).optional(),
  /** Runbook entries for fulfillers (see exceptionSchema). */
  exceptions: z.array(exceptionSchema).optional(),
  /** Pre-validation (licence seat, compatibility, duplicate, conflict, backend): see src/requests/checks/schema.ts. */
  checks: checksSchema.default([]),
}).strict();

export type CatalogueItem = z.infer<typeof catalogueItemSchema>;
export type FieldDef = z.infer<typeof fieldSchema>;
export type ApprovalStepDef = z.infer<typeof approvalStepSchema>;
export type WorkflowStepDef = z.infer<typeof workflowStepSchema>;
export type Approver = ApprovalStepDef['approver'];
export type Eligibility = z.infer<typeof eligibilitySchema>;
export type ExceptionEntry = z.infer<typeof exceptionSchema>;

/** A choice option normalised to value/label/aliases. */
export interface ChoiceOption { value: string; label: string; aliases: string[] }

/** Normalises the options of a choice/multichoice field. */
export function optionsOf(field: FieldDef): ChoiceOption[] {
  return (field.options ?? []).map((o) =>
    typeof o === 'string' ? { value: o, label: o, aliases: [] } : { value: o.value, label: o.label ?? o.value, aliases: o.aliases ?? [] },
  );
}
