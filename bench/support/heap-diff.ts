/**
 * What grew between two V8 heap snapshots (e.g. from `bench:memory --heap-snapshots <dir>`): self size
 * and count per (node type, constructor name), largest growth first.
 *
 *   npx tsx bench/support/heap-diff.ts <earlier.heapsnapshot> <later.heapsnapshot> [top=25]
 */
import { readFileSync } from 'node:fs';

interface Snapshot { snapshot: { meta: { node_fields: string[]; node_types: [string[]] } }; nodes: number[]; strings: string[] }

function aggregate(file: string): Map<string, { count: number; bytes: number }> {
  const s = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const f = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const [ti, ni, si] = [f.indexOf('type'), f.indexOf('name'), f.indexOf('self_size')];
  const out = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < s.nodes.length; i += f.length) {
    const type = types[s.nodes[i + ti]!]!;
    const name = /string/.test(type) ? '(string)' : type === 'number' ? '(number)' : type === 'code' ? '(code)' : s.strings[s.nodes[i + ni]!]!.slice(0, 60);
    const k = `${type}\t${name}`;
    const a = out.get(k) ?? { count: 0, bytes: 0 };
    a.count++;
    a.bytes += s.nodes[i + si]!;
    out.set(k, a);
  }
  return out;
}

const [a, b, top] = process.argv.slice(2);
if (!a || !b) { process.stderr.write('usage: npx tsx bench/support/heap-diff.ts <earlier.heapsnapshot> <later.heapsnapshot> [top]\n'); process.exit(2); }
const before = aggregate(a), after = aggregate(b);
const rows = [...new Set([...before.keys(), ...after.keys()])].map((k) => {
  const x = before.get(k) ?? { count: 0, bytes: 0 }, y = after.get(k) ?? { count: 0, bytes: 0 };
  return { k, bytes: y.bytes - x.bytes, count: y.count - x.count };
}).sort((p, q) => q.bytes - p.bytes);
for (const r of rows.slice(0, Number(top ?? 25))) process.stdout.write(`${String(r.bytes).padStart(10)} B ${String(r.count).padStart(7)}  ${r.k.replace('\t', '  ')}\n`);
process.stdout.write(`${String(rows.reduce((t, r) => t + r.bytes, 0)).padStart(10)} B in all\n`);
