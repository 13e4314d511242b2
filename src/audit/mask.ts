/** Masking of sensitive request fields (catalogue `sensitive: true`) for logs, audit and other people. */
import type { CatalogueItem } from '../catalogue/schema.js';

export const MASK = '••••';

/** Shows only the last 4 characters of a value (e.g. an IBAN), or the mask for short values. */
export function maskValue(value: unknown): string {
  const s = Array.isArray(value) ? value.join(', ') : String(value ?? '');
  return s.length > 8 ? `${MASK}${s.slice(-4)}` : MASK;
}

/** A copy of `fields` with every field marked sensitive in `item` masked. */
export function maskFields(item: Pick<CatalogueItem, 'fields'>, fields: Record<string, unknown>): Record<string, unknown> {
  const sensitive = new Set(item.fields.filter((f) => f.sensitive).map((f) => f.name));
  return Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, sensitive.has(k) && v !== undefined && v !== null ? maskValue(v) : v]));
}
