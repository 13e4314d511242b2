/**
 * Distinctive secrets for the leak scan: each is `<name>-<32 hex>`, so a leak is found even when
 * only a piece of it escapes (any 12 characters of the random part), as well as whole, URL-encoded,
 * base64 (Basic auth) or JSON-escaped.
 */
import { randomBytes } from 'node:crypto';

export const secret = (name: string): string => `${name}-${randomBytes(16).toString('hex')}`;

/** Every 12-character window of a secret's random part (a truncated excerpt still shows). */
function windows(s: string): string[] {
  const hex = s.slice(s.lastIndexOf('-') + 1);
  const out: string[] = [];
  for (let i = 0; i + 12 <= hex.length; i += 4) out.push(hex.slice(i, i + 12));
  return out;
}

export interface Leak { secret: string; source: string; excerpt: string }

/** Where any of `secrets` (or a 12-character piece, or its base64) occurs in the named texts. */
export function scanForSecrets(secrets: Record<string, string>, sources: Record<string, string>): Leak[] {
  const leaks: Leak[] = [];
  for (const [name, value] of Object.entries(secrets)) {
    const needles = [value, encodeURIComponent(value), Buffer.from(value).toString('base64'), ...windows(value)];
    for (const [source, text] of Object.entries(sources)) {
      const hit = needles.map((n) => text.indexOf(n)).find((i) => i >= 0);
      if (hit !== undefined) leaks.push({ secret: name, source, excerpt: text.slice(Math.max(0, hit - 120), hit + 80) });
    }
  }
  return leaks;
}
