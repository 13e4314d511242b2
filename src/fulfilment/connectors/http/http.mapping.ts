/**
 * Request and response mapping for the `http` connector: `{{input.x}}` templates in paths and query
 * values, and JSONata expressions for request bodies (over `{input}`) and outputs (over
 * `{status, body, headers}`). Expressions are compiled once, when the connector is created.
 */
import jsonata from 'jsonata';
import { HttpConnectorConfigError, jsonataCompileError, PLACEHOLDER } from './http.config.js';

/** Input that a template or mapping cannot use: the call is not retryable. */
export class MappingError extends Error {}

function lookup(input: Record<string, unknown>, dotted: string): unknown {
  let v: unknown = input;
  for (const k of dotted.slice(1).split('.')) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, k)) return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

function scalar(v: unknown, where: string, name: string): string {
  if (v === undefined || v === null) throw new MappingError(`${where} needs input${name}, which is missing`);
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new MappingError(`${where} needs input${name} to be a string, number or boolean`);
}

/**
 * Fills a path template. Values are URL-encoded; `.` and `..` are refused so a value cannot walk
 * out of the configured path (URL parsers resolve encoded dot segments too).
 */
export function renderPath(template: string, input: Record<string, unknown>): string {
  return template.replace(PLACEHOLDER, (_m, name: string) => {
    const s = scalar(lookup(input, name), 'path', name);
    if (s === '' || /^(\.|%2e){1,2}$/i.test(s)) throw new MappingError(`path needs input${name} to be a non-empty value other than "." or ".."`);
    return encodeURIComponent(s);
  });
}

/**
 * Fills query templates. A value that is only one placeholder is left out when that input is missing,
 * and repeated when it is a list; other values must resolve completely.
 */
export function renderQuery(query: Record<string, string> | undefined, input: Record<string, unknown>): [string, string][] {
  const out: [string, string][] = [];
  for (const [key, template] of Object.entries(query ?? {})) {
    const whole = new RegExp(`^${PLACEHOLDER.source}$`).exec(template);
    if (whole) {
      const v = lookup(input, whole[1]!);
      if (v === undefined || v === null) continue;
      for (const item of Array.isArray(v) ? v : [v]) out.push([key, scalar(item, `query ${key}`, whole[1]!)]);
      continue;
    }
    out.push([key, template.replace(PLACEHOLDER, (_m, name: string) => scalar(lookup(input, name), `query ${key}`, name))]);
  }
  return out;
}

/** A compiled JSONata expression with the name of what it maps, for error messages. */
export interface Mapping {
  what: string;
  expr: jsonata.Expression;
}

/** Compiles `src`, or throws a config error naming the operation and field. */
export function compileMapping(connectorId: string, operation: string, field: 'body' | 'response', src: string): Mapping {
  const err = jsonataCompileError(src);
  if (err) throw new HttpConnectorConfigError(`connector "${connectorId}" (http): operation "${operation}": ${field} is not a valid JSONata expression (${err})`);
  return { what: `${field} mapping`, expr: jsonata(src) };
}

/** Plain JSON: drops JSONata's sequence markers, functions and undefined values. */
function toJson(v: unknown): unknown {
  return v === undefined ? undefined : JSON.parse(JSON.stringify(v)) as unknown;
}

/** Evaluates a mapping; an evaluation error is a {@link MappingError}. */
export async function evaluate(m: Mapping, data: Record<string, unknown>): Promise<unknown> {
  let v: unknown;
  try { v = await m.expr.evaluate(data); } catch (e) {
    const j = e as { message?: string; code?: string };
    throw new MappingError(`${m.what} failed: ${j.code ? `${j.code} ` : ''}${j.message ?? String(e)}`);
  }
  return toJson(v);
}

/** Evaluates a response mapping, which must produce an object (the operation's output). */
export async function evaluateOutput(m: Mapping, data: Record<string, unknown>): Promise<Record<string, unknown>> {
  const v = await evaluate(m, data);
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new MappingError(`${m.what} produced ${v === undefined ? 'nothing' : Array.isArray(v) ? 'a list' : typeof v}; expected an object`);
  }
  return v as Record<string, unknown>;
}
