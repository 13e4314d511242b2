/**
 * Which inbound mails errand must not answer, and which senders it may believe.
 *
 * - Automatic mail (RFC 3834 Auto-Submitted other than "no", Precedence bulk/junk/list/auto_reply,
 *   X-Auto-Response-Suppress, X-Autoreply/X-Autorespond, mailing lists), bounces and reports
 *   (null envelope sender, mailer-daemon/postmaster, multipart/report), our own addresses or our loop
 *   marker, and mail with more Received: hops than a sane path has (a loop) are ignored.
 * - Authentication-Results (RFC 8601) headers count only when their authserv-id is one we trust (the
 *   organisation's own MTA, which must remove such headers arriving from outside): a dmarc, spf or
 *   dkim "fail" there makes the sender untrusted; with `requireAuth`, so does the lack of a passing
 *   result aligned with the From domain.
 */

export interface HeaderLine { key: string; line: string }

/** The values of a header (unfolded; every occurrence). */
export function headerValues(lines: readonly HeaderLine[], name: string): string[] {
  const key = name.toLowerCase();
  return lines.filter((h) => h.key.toLowerCase() === key).map((h) => {
    const i = h.line.indexOf(':');
    return (i >= 0 ? h.line.slice(i + 1) : h.line).replace(/\r?\n[ \t]+/g, ' ').trim();
  });
}

/** The header errand puts on everything it sends: mail carrying it came back to us. */
export const LOOP_HEADER = 'X-Errand-Loop';

export interface AutoMailInput {
  headerLines: readonly HeaderLine[];
  from: string | undefined;
  /** SMTP MAIL FROM ('' = the null sender of bounces); undefined when not known (IMAP). */
  envelopeFrom?: string | null;
  contentType?: string;
  ownAddresses: string[];
  maxReceived: number;
}

/** Why a mail is automatic or looping (to be ignored, not answered), or undefined for a person's mail. */
export function automaticMailReason(m: AutoMailInput): string | undefined {
  const h = (n: string) => headerValues(m.headerLines, n);
  const auto = h('auto-submitted').find((v) => v.split(';')[0]!.trim().toLowerCase() !== 'no');
  if (auto) return `Auto-Submitted: ${auto}`;
  const prec = h('precedence').find((v) => /^(bulk|junk|list|auto_reply)\b/i.test(v));
  if (prec) return `Precedence: ${prec}`;
  if (h('x-auto-response-suppress').length) return 'X-Auto-Response-Suppress present (automatic mail)';
  if (h('x-autoreply').length || h('x-autorespond').length || h('x-auto-reply').length) return 'auto-reply header';
  if (h('list-id').length || h('list-unsubscribe').length) return 'mailing-list mail (List-Id/List-Unsubscribe)';
  if (h(LOOP_HEADER).length) return `${LOOP_HEADER} present (our own mail came back)`;
  if (m.envelopeFrom === '' || h('return-path').some((v) => /^<\s*>$/.test(v))) return 'null envelope sender (a bounce)';
  if ((m.contentType ?? '').toLowerCase().startsWith('multipart/report')) return 'delivery or read report (multipart/report)';
  const from = m.from?.toLowerCase();
  if (!from) return 'no sender address';
  const local = from.split('@')[0]!;
  if (/^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|bounces?)$/.test(local)) return `automatic sender ${from}`;
  if (m.ownAddresses.includes(from)) return `sent from our own address ${from}`;
  const hops = h('received').length;
  if (hops > m.maxReceived) return `${hops} Received: headers (more than ${m.maxReceived}: a mail loop)`;
  return undefined;
}

export interface AuthMethodResult { method: string; result: string; props: Record<string, string> }
export interface AuthResults { authservId: string; results: AuthMethodResult[] }

/** Removes RFC 5322 comments "( … )" (nested), keeping quoted strings. */
function stripComments(s: string): string {
  let out = '', depth = 0, quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quoted) { out += c; if (c === '\\') out += s[++i] ?? ''; else if (c === '"') quoted = false; continue; }
    if (c === '"' && depth === 0) { quoted = true; out += c; continue; }
    if (c === '(') { depth++; continue; }
    if (c === ')' && depth > 0) { depth--; continue; }
    if (depth === 0) out += c;
  }
  return out;
}

/** Parses one Authentication-Results value; undefined when malformed. */
export function parseAuthenticationResults(value: string): AuthResults | undefined {
  const parts = stripComments(value).split(';').map((p) => p.trim()).filter(Boolean);
  const head = parts.shift();
  const authservId = head?.split(/\s+/)[0]?.toLowerCase();
  if (!authservId || authservId.includes('=')) return undefined;
  const results: AuthMethodResult[] = [];
  for (const p of parts) {
    const m = /^([a-z0-9_-]+)(?:\/\d+)?\s*=\s*([a-z]+)\b(.*)$/i.exec(p);
    if (!m) continue;
    const props: Record<string, string> = {};
    for (const kv of m[3]!.matchAll(/([a-z0-9_-]+(?:\.[a-z0-9_-]+)?)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s;]+)/gi)) props[kv[1]!.toLowerCase()] = kv[2]!.replace(/^"|"$/g, '');
    results.push({ method: m[1]!.toLowerCase(), result: m[2]!.toLowerCase(), props });
  }
  return { authservId, results };
}

export interface AuthVerdict {
  trusted: boolean;
  /** Why not trusted. */
  reason?: string;
  /** The believed results, for the audit ("mx.example.com: spf=pass dkim=pass dmarc=fail"). */
  results: string[];
}

const domainOf = (s: string | undefined): string | undefined => s?.toLowerCase().replace(/^.*@/, '').replace(/[>\s].*$/, '') || undefined;
/** Relaxed alignment (RFC 7489): the same organisational domain, approximated as equal or parent/child. */
const aligned = (a: string | undefined, b: string): boolean => !!a && (a === b || b.endsWith(`.${a}`) || a.endsWith(`.${b}`));

/** Decides from the trusted Authentication-Results whether the From address can be believed. */
export function authenticationVerdict(lines: readonly HeaderLine[], trustedIds: string[], requireAuth: boolean, fromAddress: string): AuthVerdict {
  if (!trustedIds.length) return { trusted: true, results: [] };
  const believed = headerValues(lines, 'authentication-results').map(parseAuthenticationResults)
    .filter((r): r is AuthResults => !!r && trustedIds.includes(r.authservId));
  const all = believed.flatMap((r) => r.results);
  const results = believed.map((r) => `${r.authservId}: ${r.results.map((x) => `${x.method}=${x.result}`).join(' ') || 'none'}`);
  const of = (method: string) => all.filter((r) => r.method === method);
  if (of('dmarc').some((r) => r.result === 'fail')) return { trusted: false, reason: 'dmarc=fail', results };
  if (of('spf').some((r) => r.result === 'fail')) return { trusted: false, reason: 'spf=fail', results };
  if (of('dkim').some((r) => r.result === 'fail') && !of('dkim').some((r) => r.result === 'pass')) return { trusted: false, reason: 'dkim=fail', results };
  if (requireAuth) {
    const from = domainOf(fromAddress)!;
    const ok = of('dmarc').some((r) => r.result === 'pass')
      || of('dkim').some((r) => r.result === 'pass' && aligned(domainOf(r.props['header.d'] ?? r.props['header.i']), from))
      || of('spf').some((r) => r.result === 'pass' && aligned(domainOf(r.props['smtp.mailfrom'] ?? r.props['smtp.helo']), from));
    if (!ok) return { trusted: false, reason: believed.length ? 'no passing authentication result aligned with the From domain' : 'no Authentication-Results from a trusted server', results };
  }
  return { trusted: true, results };
}
