/**
 * What a person wrote in an e-mail, as plain text: the quoted original ("On … wrote:", "> " lines,
 * Outlook's "From:/Sent:" block), the signature ("-- ", "Sent from my iPhone") and a closing
 * ("Thanks,\nErin") are cut before anything is classified or parsed as an answer. Also: numbered
 * answers ("1. write", "2) 31 March 2027"), answers typed under each numbered question in the
 * quoted text, and a reply keyword ("CONFIRM").
 */

/** CRLF → LF, non-breaking spaces → spaces, trailing blanks removed. */
export function normaliseText(text: string): string {
  return text.replace(/\r\n?/g, '\n').replace(/[\u00a0\u2007\u202f]/g, ' ').split('\n').map((l) => l.replace(/\s+$/, '')).join('\n');
}

const QUOTE_HEADER = [
  /^\s*On\b.{0,300}\bwrote\s*:\s*$/i,
  /^\s*Am\b.{0,300}\bschrieb\b.{0,200}:\s*$/i,
  /^\s*Le\b.{0,300}\ba écrit\s*:\s*$/i,
  /^\s*Op\b.{0,300}\bschreef\b.{0,200}:\s*$/i,
  /^\s*El\b.{0,300}\bescribió\s*:\s*$/i,
  /^\s*-{2,}\s*(Original Message|Forwarded message|Ursprüngliche Nachricht|Message d'origine)\s*-{2,}\s*$/i,
  /^\s*_{10,}\s*$/, // Outlook's rule above the quoted header block
];
const OUTLOOK_FROM = /^\s*\*?(From|Von|De|Van)\s?:\*?\s+\S/i;
const OUTLOOK_SENT = /^\s*\*?(Sent|Date|Gesendet|Datum|Envoyé|Verzonden)\s?:\*?\s+\S/i;
const SIGNATURE = [/^--\s*$/, /^\s*Sent from my \w+/i, /^\s*Get Outlook for \w+/i, /^\s*Sent from (Mail|Outlook) for \w+/i];
const CLOSING = /^\s*(thanks|thank you|many thanks|thanks again|thx|cheers|regards|best|best regards|best wishes|kind regards|warm regards|all the best|sincerely|br|mit freundlichen grüßen|viele grüße|cordialement)\b[\s,.!]*([\p{L}.'-]+\s*){0,3}[.!]?$/iu;
const GREETING = /^\s*(hi|hello|hey|dear|hallo|good (morning|afternoon|evening))(\s+[\p{L}.'-]+){0,3}\s*[,!.:]?$/iu;

/** Index of the first line of a quoted original (reply header or Outlook block), or -1. */
function quoteStart(lines: string[]): number {
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (QUOTE_HEADER.some((re) => re.test(l))) return i;
    // "On Mon, 1 Jan 2027 at 10:00, errand <\nerrand@example.com> wrote:" wraps over two lines
    if (/^\s*On\b/i.test(l) && i + 1 < lines.length && /\bwrote\s*:\s*$/i.test(lines[i + 1]!) && `${l} ${lines[i + 1]}`.length < 400) return i;
    if (OUTLOOK_FROM.test(l) && lines.slice(i + 1, i + 5).some((x) => OUTLOOK_SENT.test(x))) return i;
  }
  return -1;
}

/** Signature, quoted lines, a leading greeting and a trailing closing removed from a block of lines. */
function ownWords(input: string[]): string {
  let lines = input;
  const sig = lines.findIndex((l) => SIGNATURE.some((re) => re.test(l)));
  if (sig >= 0) lines = lines.slice(0, sig);
  lines = lines.filter((l) => !/^\s*>/.test(l));
  while (lines.length && !lines[0]!.trim()) lines.shift();
  if (lines.length > 1 && GREETING.test(lines[0]!)) lines.shift();
  // a closing near the end ("Thanks,\nErin", "Kind regards, Erin Employee, Finance")
  for (let i = Math.max(0, lines.length - 6); i < lines.length; i++) {
    const tail = lines.slice(i + 1).filter((l) => l.trim());
    if (CLOSING.test(lines[i]!) && tail.length <= 4 && tail.every((l) => l.trim().length <= 60) && lines.slice(0, i).some((l) => l.trim())) { lines = lines.slice(0, i); break; }
  }
  return lines.join('\n').replace(/\n{3,}/g, '\n\n').trim();
}

/**
 * The person's own words: the quoted original, quoted lines, signature, a leading greeting and a
 * trailing closing removed; blank runs collapsed. A reply written below the quote (bottom-posting) is
 * taken when there is nothing above it. May be empty.
 */
export function replyText(body: string): string {
  const lines = normaliseText(body).split('\n');
  const q = quoteStart(lines);
  const own = ownWords(q >= 0 ? lines.slice(0, q) : lines);
  if (own) return own;
  let lastQuoted = -1;
  lines.forEach((l, i) => { if (/^\s*>/.test(l)) lastQuoted = i; });
  return lastQuoted >= 0 ? ownWords(lines.slice(lastQuoted + 1)) : own;
}

const NUMBERED = /^\s*(?:(?:q(?:uestion)?|#)\s*)?(\d{1,2})\s*(?:[.):]|\s-)(?:\s+(.*))?$/i;

/** Numbered answers ("1. write", "2) 31 March 2027", "Q3: none") for questions 1..count; lines until a blank line or the next number continue an answer. */
export function numberedAnswers(text: string, count: number): { answers: Map<number, string>; outOfRange: number[] } {
  const answers = new Map<number, string>();
  const outOfRange: number[] = [];
  let current: number | undefined;
  for (const line of normaliseText(text).split('\n')) {
    const m = NUMBERED.exec(line);
    if (m) {
      const n = Number(m[1]);
      if (n >= 1 && n <= count) {
        current = n;
        answers.set(n, (m[2] ?? '').trim());
        continue;
      }
      if (n >= 1 && n <= 99 && (m[2] ?? '').trim()) { outOfRange.push(n); current = undefined; continue; }
    }
    if (!line.trim()) { current = undefined; continue; }
    if (current !== undefined) answers.set(current, `${answers.get(current)!} ${line.trim()}`.trim());
  }
  for (const [n, a] of answers) if (!a) answers.delete(n);
  return { answers, outOfRange };
}

/**
 * Answers typed under each numbered question in the quoted original:
 *   > 2. Do you need read or write access?
 *   write
 * Unquoted lines after the last quoted line are not answers (that is where signatures go).
 */
export function inlineAnswers(body: string, count: number): Map<number, string> {
  const lines = normaliseText(body).split('\n');
  const answers = new Map<number, string>();
  let lastQuoted = -1;
  lines.forEach((l, i) => { if (/^\s*>/.test(l)) lastQuoted = i; });
  let current: number | undefined;
  for (let i = 0; i < lastQuoted; i++) {
    const l = lines[i]!;
    const quoted = /^\s*>+\s?(.*)$/.exec(l);
    if (quoted) {
      const m = /^\s*(\d{1,2})[.)]\s+\S/.exec(quoted[1]!);
      if (m) current = Number(m[1]) >= 1 && Number(m[1]) <= count ? Number(m[1]) : undefined;
      continue;
    }
    if (SIGNATURE.some((re) => re.test(l))) break;
    if (current !== undefined && l.trim()) answers.set(current, `${answers.get(current) ?? ''} ${l.trim()}`.trim());
  }
  return answers;
}

/** A reply keyword: the first line, upper-cased, without quotes and final punctuation ("confirm." → "CONFIRM"). */
export function replyKeyword(text: string): string | undefined {
  const first = text.split('\n').find((l) => l.trim());
  if (!first || first.length > 60) return undefined;
  return keywordOf(first.replace(/^["'“”‘’*\s]+|["'“”‘’*.!\s]+$/g, ''));
}

/** The keyword a button label is answered with ("Hand over to a person" → "HAND OVER TO A PERSON"). */
export function keywordOf(label: string): string {
  return label.normalize('NFKC').toUpperCase().replace(/[^\p{L}\p{N}]+/gu, ' ').trim();
}

/** A subject without reply/forward prefixes and our thread tag. */
export function cleanSubject(subject: string | undefined): string {
  let s = (subject ?? '').replace(/\[errand\s+E-\d+\]/gi, ' ').replace(/\s+/g, ' ').trim();
  for (let i = 0; i < 5; i++) {
    const next = s.replace(/^(re|fw|fwd|aw|wg|sv|vs|tr|antw)\s*(\[\d+\])?\s*:\s*/i, '');
    if (next === s) break;
    s = next;
  }
  return s.trim();
}

/** A human-readable size ("1.5 MB"). */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${Math.round(n / 102.4) / 10} KB`;
  return `${Math.round(n / (1024 * 102.4)) / 10} MB`;
}
