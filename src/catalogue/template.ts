/**
 * `{{ path }}` templates in workflow inputs. A string that is exactly one template keeps the value's
 * type (an array stays an array); otherwise values are interpolated as text. Missing values render
 * as empty text. Paths: requester.<attr>, fields.<name>, request.<ref|id|itemId>, steps.<stepId>.<key>.
 */
const TEMPLATE = /\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}/g;
const WHOLE = /^\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}$/;

export interface TemplateContext {
  requester: Record<string, unknown>;
  fields: Record<string, unknown>;
  request: Record<string, unknown>;
  steps: Record<string, Record<string, unknown>>;
}

/** Every template path used in a value (strings, arrays and objects are walked). */
export function templatePaths(value: unknown): string[] {
  const out: string[] = [];
  walk(value, (s) => { for (const m of s.matchAll(TEMPLATE)) out.push(m[1]!); return s; });
  return out;
}

function walk(value: unknown, onString: (s: string) => unknown): unknown {
  if (typeof value === 'string') return onString(value);
  if (Array.isArray(value)) return value.map((v) => walk(v, onString));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, onString)]));
  }
  return value;
}

function resolve(path: string, ctx: TemplateContext): unknown {
  let cur: unknown = ctx;
  for (const key of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || !Object.prototype.hasOwnProperty.call(cur, key)) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

const asText = (v: unknown): string =>
  v === undefined || v === null ? '' : Array.isArray(v) ? v.join(', ') : typeof v === 'object' ? JSON.stringify(v) : String(v);

/** Renders every template inside `value`. */
export function renderTemplate<T>(value: T, ctx: TemplateContext): unknown {
  return walk(value, (s) => {
    const whole = WHOLE.exec(s);
    if (whole) return resolve(whole[1]!, ctx) ?? '';
    return s.replace(TEMPLATE, (_m, p: string) => asText(resolve(p, ctx)));
  });
}
