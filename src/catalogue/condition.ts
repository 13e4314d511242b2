/**
 * The small condition language of the catalogue (`when:` on fields, approvals and workflow steps).
 *
 *   access == "write" and cost > 1000
 *   requester.department in ["Finance", "HR"]
 *   not (fields.remote == true) or "visio" in software
 *
 * Names: a bare name or `fields.<name>` / `field.<name>` is an answer; `requester.<attr>` is the
 * requester's directory attribute (department, roles, employmentType, location, groups...).
 * Operators: == != > >= < <= in contains, and/&&, or/||, not/!, parentheses, [lists].
 * Comparisons with a missing value are false (except !=). No function calls, no assignment:
 * parsing is a recursive descent over a fixed grammar, so catalogue files cannot run code.
 */

export type Value = string | number | boolean | null | undefined | Value[];

type Node =
  | { t: 'lit'; v: Value }
  | { t: 'ref'; scope: 'fields' | 'requester'; path: string[] }
  | { t: 'list'; items: Node[] }
  | { t: 'not'; e: Node }
  | { t: 'bin'; op: string; l: Node; r: Node };

export interface Condition {
  source: string;
  /** Answer names the condition reads. */
  fieldRefs: string[];
  /** Requester attributes the condition reads. */
  requesterRefs: string[];
  evaluate(ctx: ConditionContext): boolean;
}

export interface ConditionContext {
  fields: Record<string, unknown>;
  requester: Record<string, unknown>;
}

export class ConditionSyntaxError extends Error {
  constructor(source: string, message: string, readonly position: number) {
    super(`${message} at position ${position} in "${source}"`);
  }
}

const TOKEN = /\s*(?:(\d+(?:\.\d+)?)|("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(==|!=|>=|<=|&&|\|\||[><!()[\],])|([A-Za-z_][A-Za-z0-9_.-]*))/y;

interface Tok { kind: 'num' | 'str' | 'op' | 'word'; text: string; pos: number }

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  TOKEN.lastIndex = 0;
  let pos = 0;
  while (pos < src.length) {
    if (/^\s*$/.test(src.slice(pos))) break;
    TOKEN.lastIndex = pos;
    const m = TOKEN.exec(src);
    if (!m) throw new ConditionSyntaxError(src, `unexpected character "${src.slice(pos).trim()[0]}"`, pos);
    const start = m.index + (m[0].length - m[0].trimStart().length);
    if (m[1] !== undefined) out.push({ kind: 'num', text: m[1], pos: start });
    else if (m[2] !== undefined) out.push({ kind: 'str', text: m[2], pos: start });
    else if (m[3] !== undefined) out.push({ kind: 'op', text: m[3], pos: start });
    else out.push({ kind: 'word', text: m[4]!, pos: start });
    pos = TOKEN.lastIndex;
  }
  return out;
}

const COMPARE = new Set(['==', '!=', '>', '>=', '<', '<=', 'in', 'contains']);

function parse(src: string): Node {
  const toks = tokenize(src);
  let i = 0;
  const peek = () => toks[i];
  const fail = (msg: string): never => { throw new ConditionSyntaxError(src, msg, peek()?.pos ?? src.length); };
  const isWord = (w: string) => peek()?.kind === 'word' && peek()!.text.toLowerCase() === w;
  const isOp = (o: string) => peek()?.kind === 'op' && peek()!.text === o;

  const or = (): Node => {
    let l = and();
    while (isWord('or') || isOp('||')) { i++; l = { t: 'bin', op: 'or', l, r: and() }; }
    return l;
  };
  const and = (): Node => {
    let l = not();
    while (isWord('and') || isOp('&&')) { i++; l = { t: 'bin', op: 'and', l, r: not() }; }
    return l;
  };
  const not = (): Node => {
    if (isWord('not') || isOp('!')) { i++; return { t: 'not', e: not() }; }
    return cmp();
  };
  const cmp = (): Node => {
    const l = primary();
    const p = peek();
    if (p && ((p.kind === 'op' && COMPARE.has(p.text)) || (p.kind === 'word' && COMPARE.has(p.text.toLowerCase())))) {
      i++;
      return { t: 'bin', op: p.text.toLowerCase(), l, r: primary() };
    }
    return l;
  };
  const primary = (): Node => {
    const p = peek();
    if (!p) return fail('expected a value but the condition ended');
    i++;
    if (p.kind === 'num') return { t: 'lit', v: Number(p.text) };
    if (p.kind === 'str') {
      try {
        return { t: 'lit', v: JSON.parse(p.text[0] === '"' ? p.text : `"${p.text.slice(1, -1).replace(/"/g, '\\"')}"`) as string };
      } catch {
        // a raw control character (a tab) or an escape JSON does not know (\x): a syntax error, not a crash
        throw new ConditionSyntaxError(src, `invalid string ${p.text.slice(0, 40)} (control characters and escapes other than \\" \\\\ \\n \\t \\uXXXX are not allowed)`, p.pos);
      }
    }
    if (p.kind === 'op' && p.text === '(') {
      const e = or();
      if (!isOp(')')) fail('expected ")"');
      i++;
      return e;
    }
    if (p.kind === 'op' && p.text === '[') {
      const items: Node[] = [];
      while (!isOp(']')) {
        items.push(primary());
        if (isOp(',')) i++;
        else if (!isOp(']')) fail('expected "," or "]" in a list');
      }
      i++;
      return { t: 'list', items };
    }
    if (p.kind === 'word') {
      const w = p.text.toLowerCase();
      if (w === 'true') return { t: 'lit', v: true };
      if (w === 'false') return { t: 'lit', v: false };
      if (w === 'null') return { t: 'lit', v: null };
      const parts = p.text.split('.');
      if (parts.some((x) => x === '')) { i--; return fail(`"${p.text}" is not a valid name`); }
      if (parts[0] === 'requester') {
        if (parts.length < 2) { i--; return fail('"requester" needs an attribute, e.g. requester.department'); }
        return { t: 'ref', scope: 'requester', path: parts.slice(1) };
      }
      if (parts[0] === 'fields' || parts[0] === 'field') {
        if (parts.length < 2) { i--; return fail(`"${parts[0]}" needs a field name, e.g. fields.access`); }
        return { t: 'ref', scope: 'fields', path: parts.slice(1) };
      }
      return { t: 'ref', scope: 'fields', path: parts };
    }
    i--;
    return fail(`unexpected "${p.text}"`);
  };

  const node = or();
  if (i < toks.length) fail(`unexpected "${toks[i]!.text}"`);
  return node;
}

function collect(n: Node, acc: { fields: Set<string>; requester: Set<string> }): void {
  switch (n.t) {
    case 'ref': (n.scope === 'fields' ? acc.fields : acc.requester).add(n.path[0]!); break;
    case 'list': n.items.forEach((x) => collect(x, acc)); break;
    case 'not': collect(n.e, acc); break;
    case 'bin': collect(n.l, acc); collect(n.r, acc); break;
    default: break;
  }
}

function lookup(obj: unknown, path: string[]): Value {
  let cur: unknown = obj;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object' || !Object.prototype.hasOwnProperty.call(cur, key)) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  if (cur instanceof Date) return cur.toISOString().slice(0, 10);
  return cur as Value;
}

const norm = (v: Value): Value => (typeof v === 'string' ? v.toLowerCase() : v);

function equals(a: Value, b: Value): boolean {
  if ((a === undefined || a === null) && (b === undefined || b === null)) return true;
  if (Array.isArray(a) || Array.isArray(b)) return JSON.stringify(a) === JSON.stringify(b);
  if (typeof a === 'number' && typeof b === 'string' && b.trim() !== '') return a === Number(b);
  if (typeof b === 'number' && typeof a === 'string' && a.trim() !== '') return Number(a) === b;
  return norm(a) === norm(b);
}

function evalNode(n: Node, ctx: ConditionContext): Value {
  switch (n.t) {
    case 'lit': return n.v;
    case 'ref': return lookup(n.scope === 'fields' ? ctx.fields : ctx.requester, n.path);
    case 'list': return n.items.map((x) => evalNode(x, ctx));
    case 'not': return !truthy(evalNode(n.e, ctx));
    case 'bin': {
      if (n.op === 'and') return truthy(evalNode(n.l, ctx)) && truthy(evalNode(n.r, ctx));
      if (n.op === 'or') return truthy(evalNode(n.l, ctx)) || truthy(evalNode(n.r, ctx));
      const l = evalNode(n.l, ctx);
      const r = evalNode(n.r, ctx);
      if (n.op === '!=') return !equals(l, r);
      if (l === undefined || l === null || r === undefined || r === null) return n.op === '==' ? equals(l, r) : false;
      switch (n.op) {
        case '==': return equals(l, r);
        case 'in': return Array.isArray(r) ? r.some((x) => (Array.isArray(l) ? l.some((y) => equals(y, x)) : equals(l, x))) : typeof r === 'string' && String(r).toLowerCase().includes(String(l).toLowerCase());
        case 'contains': return Array.isArray(l) ? l.some((x) => equals(x, r)) : String(l).toLowerCase().includes(String(r).toLowerCase());
        default: {
          const a = typeof l === 'number' ? l : Number(l);
          const b = typeof r === 'number' ? r : Number(r);
          const useNum = !Number.isNaN(a) && !Number.isNaN(b);
          const x = useNum ? a : String(l);
          const y = useNum ? b : String(r);
          if (n.op === '>') return x > y;
          if (n.op === '>=') return x >= y;
          if (n.op === '<') return x < y;
          return x <= y;
        }
      }
    }
  }
}

function truthy(v: Value): boolean {
  if (Array.isArray(v)) return v.length > 0;
  return v !== undefined && v !== null && v !== false && v !== '' && v !== 0;
}

const cache = new Map<string, Condition>();

/** Parses a condition (throws ConditionSyntaxError with the position on bad syntax). Cached by source. */
export function compileCondition(source: string): Condition {
  const hit = cache.get(source);
  if (hit) return hit;
  const node = parse(source);
  const acc = { fields: new Set<string>(), requester: new Set<string>() };
  collect(node, acc);
  const cond: Condition = {
    source,
    fieldRefs: [...acc.fields],
    requesterRefs: [...acc.requester],
    evaluate: (ctx) => truthy(evalNode(node, ctx)),
  };
  cache.set(source, cond);
  return cond;
}

/** True when `source` is absent or holds in `ctx`. */
export function holds(source: string | undefined, ctx: ConditionContext): boolean {
  return source === undefined ? true : compileCondition(source).evaluate(ctx);
}
