/**
 * One CSV cell (RFC 4180 quoting) for the reports people open in spreadsheets. Text a spreadsheet
 * would read as a formula — starting with = + - @, a tab or a carriage return (CSV injection, e.g. an
 * entitlement or error text "=HYPERLINK(...)" from a backend or a requester) — gets a leading ' so
 * it is shown, not evaluated; numbers stay numbers. Quoted when it holds a quote, comma or line break.
 */
export function csvCell(v: unknown): string {
  let s = v === null || v === undefined ? '' : String(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
