/** Command-line parsing shared by the load benchmarks (node:util parseArgs, numbers checked). */
import { parseArgs } from 'node:util';

export type Spec = Record<string, { type: 'string' | 'boolean'; default?: string | boolean; help: string }>;

/** Parses argv against `spec`; prints usage and exits on --help or an unknown option. */
export function parseCli<S extends Spec>(name: string, summary: string, spec: S, argv = process.argv.slice(2)): { [K in keyof S]: S[K]['type'] extends 'boolean' ? boolean : string } {
  const usage = () => {
    const lines = Object.entries(spec).map(([k, v]) => `  --${k}${v.type === 'string' ? ' <value>' : ''}`.padEnd(30) + `${v.help}${v.default !== undefined && v.type === 'string' ? ` (default ${String(v.default)})` : ''}`);
    return `usage: npm run --silent ${name} -- [options]\n${summary}\n\n${lines.join('\n')}\n  --help                      this text\n`;
  };
  try {
    const { values } = parseArgs({
      args: argv, strict: true, allowPositionals: false,
      options: { ...Object.fromEntries(Object.entries(spec).map(([k, v]) => [k, { type: v.type, ...(v.default !== undefined ? { default: v.default } : {}) }])), help: { type: 'boolean' } } as never,
    });
    if ((values as { help?: boolean }).help) { process.stdout.write(usage()); process.exit(0); }
    return values as never;
  } catch (e) {
    process.stderr.write(`${name}: ${(e as Error).message}\n${usage()}`);
    process.exit(2);
  }
}

/** A positive number option, or exit 2 naming it. */
export function positive(name: string, v: string, integer = false): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) { process.stderr.write(`--${name}: expected a ${integer ? 'whole ' : ''}number ≥ 0, got "${v}"\n`); process.exit(2); }
  return n;
}

/** A comma-separated list of positive numbers. */
export function numbers(name: string, v: string): number[] {
  const list = v.split(',').map((s) => s.trim()).filter(Boolean).map((s) => positive(name, s));
  if (!list.length) { process.stderr.write(`--${name}: expected a comma-separated list of numbers\n`); process.exit(2); }
  return list;
}

/** A progress line on stderr, prefixed with the benchmark and the elapsed seconds. */
export function logger(name: string): (msg: string) => void {
  const t0 = performance.now();
  return (msg) => { process.stderr.write(`[${name} ${((performance.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${msg}\n`); };
}
