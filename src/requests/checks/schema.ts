/**
 * The `checks:` of a catalogue item: pre-validation that stops a request which would fail, as early
 * as possible (in the dialog, once the answers a check depends on are given) and again at submission.
 *
 *   checks:
 *     - id: seat                      # unique in the item
 *       kind: licence                 # licence | compatibility | duplicate | conflict | http
 *       when: licenceCost > 0         # optional condition (fields and requester attributes)
 *       ...kind-specific settings (below)
 *
 * Structural rules live here; references (fields, options, connector operations, conditions) are
 * checked by `validate.ts`, and references outside the item (compatibility tables, other items) when
 * the app starts (`validateCheckReferences`).
 */
import { z } from 'zod';
import { jsonataCompileError } from '../../fulfilment/connectors/http/http.config.js';

const CHECK_ID = /^[a-z][a-z0-9-]*$/;
/** A licence pool's product key, e.g. `visio`, `tableau-server`. */
export const PRODUCT_PATTERN = /^[a-z0-9][a-z0-9-]*$/;
const ITEM_ID = /^[a-z][a-z0-9-]+$/;

const product = z.string().regex(PRODUCT_PATTERN, 'a licence product key like "visio" (lower-case letters, digits and -)');

const base = {
  id: z.string().regex(CHECK_ID, 'a check id like "seat" or "no-duplicate" (lower-case words joined by -)'),
  /** Shown in the request history; default: the id. */
  label: z.string().min(1).optional(),
  /** The check runs only when this condition holds (over answers and requester attributes). */
  when: z.string().min(1).optional(),
};

/** A free seat in a licence pool (Postgres, managed with `errand licence` / `/admin/api/licences`). */
export const licenceCheckSchema = z.object({
  ...base,
  kind: z.literal('licence'),
  /** The answer naming the product (a choice field); with `products`. */
  field: z.string().min(1).optional(),
  /** Answer value → licence pool product; answers not listed need no seat. */
  products: z.record(z.string().min(1), product).optional(),
  /** One pool for the whole item (instead of field + products). */
  product: product.optional(),
  /** No free seat: `waitlist` stores the request waiting for one (it continues by itself); `refuse` stops it. */
  whenFull: z.enum(['waitlist', 'refuse'], { error: 'expected waitlist (store the request until a seat frees) or refuse' }).default('waitlist'),
  /** Answer value → other values of `field` offered instead when no seat is free. */
  alternatives: z.record(z.string().min(1), z.array(z.string().min(1)).min(1)).optional(),
}).strict();

/** The answer must suit the requester's devices (asset list) per a table of dialogs/_compatibility.yaml. */
export const compatibilityCheckSchema = z.object({
  ...base,
  kind: z.literal('compatibility'),
  /** A choice or multichoice field whose values are looked up in the table. */
  field: z.string().min(1),
  /** A table of the compatibility file, e.g. `software`, `peripherals`. */
  table: z.string().regex(/^[a-z][a-z0-9-]*$/, 'a table name of dialogs/_compatibility.yaml, like "software"'),
}).strict();

/** Another open request of the same person for the same item with the same key fields. */
export const duplicateCheckSchema = z.object({
  ...base,
  kind: z.literal('duplicate'),
  /** Answers that must be equal for two requests to be the same; empty = any open request of the item. */
  keyFields: z.array(z.string().min(1)).default([]),
}).strict();

/** An open request of another item that contradicts this one (e.g. an open offboarding of the person). */
export const conflictCheckSchema = z.object({
  ...base,
  kind: z.literal('conflict'),
  /** The other catalogue item, e.g. `offboarding`. */
  item: z.string().regex(ITEM_ID, 'a catalogue id like "offboarding"'),
  /** The person field of the other item that names whom it is about; omitted = its requester. */
  personField: z.string().min(1).optional(),
  /** The person field of this item naming whom this request is for; omitted = the requester. */
  subjectField: z.string().min(1).optional(),
  /** What to tell the person (the other request's reference and stage are added). */
  message: z.string().min(1).optional(),
}).strict();

const jsonataResult = z.string({ error: 'expected a JSONata expression over the operation output ({status, body} or the mapped output)' }).min(1)
  .superRefine((src, ctx) => {
    const err = jsonataCompileError(src);
    if (err) ctx.addIssue({ code: 'custom', message: `not a valid JSONata expression (${err})` });
  });

/** A backend answers whether the request can go ahead (an http connector operation or http.request). */
export const httpCheckSchema = z.object({
  ...base,
  kind: z.literal('http'),
  /** `<connector>.<operation>` of dialogs/_connectors.yaml, or the built-in `http.request`. */
  action: z.string().min(1),
  /** Templated like workflow inputs: {{requester.x}}, {{fields.x}}, {{request.itemId}}. */
  inputs: z.record(z.string(), z.unknown()).default({}),
  /**
   * JSONata over the operation's output, giving `{"outcome": "pass"|"fail"|"warn", "message": ...}`,
   * or just true (pass) / false (fail) / one of the outcome words.
   */
  result: jsonataResult,
  /** Fields the check waits for in the dialog; default: the fields its inputs and `when` use. */
  fields: z.array(z.string().min(1)).optional(),
  timeoutMs: z.number().int().min(100).max(60_000).default(5000),
  /** Backend down, timed out or answering nonsense: `fail-open` = warn and continue; `fail-closed` = refuse. */
  onError: z.enum(['fail-open', 'fail-closed'], { error: 'expected fail-open (warn and continue) or fail-closed (refuse with a message)' }),
  /** Shown when the backend cannot answer (default: a plain sentence naming the check). */
  errorMessage: z.string().min(1).optional(),
}).strict();

export const checkSchema = z.discriminatedUnion('kind', [licenceCheckSchema, compatibilityCheckSchema, duplicateCheckSchema, conflictCheckSchema, httpCheckSchema], {
  error: 'expected a check with kind licence, compatibility, duplicate, conflict or http',
});

export const checksSchema = z.array(checkSchema);

export type CheckDef = z.infer<typeof checkSchema>;
export type LicenceCheck = z.infer<typeof licenceCheckSchema>;
export type CompatibilityCheck = z.infer<typeof compatibilityCheckSchema>;
export type DuplicateCheck = z.infer<typeof duplicateCheckSchema>;
export type ConflictCheck = z.infer<typeof conflictCheckSchema>;
export type HttpCheck = z.infer<typeof httpCheckSchema>;
export type CheckKind = CheckDef['kind'];
