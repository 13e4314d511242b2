/**
 * Server-side check of a complete set of answers (API intake, and again at every submission):
 * every visible required field present, values of the right type and within the field's rules,
 * no unknown or hidden fields. Values may be typed (JSON) or text; they are normalised.
 */
import { optionsOf, type CatalogueItem, type FieldDef } from '../catalogue/schema.js';
import { checkValidation, parseAnswer, type PersonLookup } from '../conversation/answer-parser.js';
import { visibleFields } from '../conversation/dialog-engine.js';

export interface FieldError { field: string; message: string }

async function normalise(f: FieldDef, v: unknown, today: Date, findPeople: PersonLookup): Promise<{ value?: unknown; error?: string }> {
  if (f.type === 'multichoice' && Array.isArray(v)) {
    const opts = optionsOf(f).map((o) => o.value);
    const bad = v.filter((x) => typeof x !== 'string' || !opts.includes(x));
    if (bad.length) return { error: `unknown option(s) ${bad.map((b) => JSON.stringify(b)).join(', ')}; expected some of ${opts.join(', ')}` };
    const err = checkValidation(f, v, today);
    return err ? { error: err } : { value: v };
  }
  if (f.type === 'number' && typeof v === 'number') {
    const err = checkValidation(f, v, today);
    return err ? { error: err } : { value: v };
  }
  if (f.type === 'boolean' && typeof v === 'boolean') return { value: v };
  if (f.type === 'choice' && typeof v === 'string' && !optionsOf(f).some((o) => o.value === v)) {
    // fall through to text parsing (labels and aliases are accepted too)
  }
  if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') return { error: `expected ${f.type === 'multichoice' ? 'a list of options' : `a ${f.type}`}, got ${Array.isArray(v) ? 'a list' : typeof v}` };
  const r = await parseAnswer(f, String(v), { today, findPeople });
  return r.ok ? { value: r.value } : { error: r.error };
}

/** Returns normalised answers, or the list of field errors. */
export async function validateAnswers(
  item: CatalogueItem, requester: Record<string, unknown>, answers: Record<string, unknown>, deps: { today: Date; findPeople: PersonLookup },
): Promise<{ ok: true; answers: Record<string, unknown> } | { ok: false; errors: FieldError[] }> {
  const errors: FieldError[] = [];
  const known = new Set(item.fields.map((f) => f.name));
  for (const k of Object.keys(answers)) if (!known.has(k)) errors.push({ field: k, message: `unknown field; ${item.id} has: ${[...known].join(', ') || '(no fields)'}` });
  const out: Record<string, unknown> = {};
  // visibility depends on earlier normalised answers, so walk in order
  for (const f of item.fields) {
    if (!visibleFields(item, { ...out, [f.name]: answers[f.name] }, requester).includes(f)) continue;
    const v = answers[f.name];
    if (v === undefined || v === null || v === '') {
      if (f.required) errors.push({ field: f.name, message: `required: ${f.prompt}` });
      else out[f.name] = null;
      continue;
    }
    const r = await normalise(f, v, deps.today, deps.findPeople);
    if (r.error) errors.push({ field: f.name, message: r.error });
    else out[f.name] = r.value;
  }
  return errors.length ? { ok: false, errors } : { ok: true, answers: out };
}
