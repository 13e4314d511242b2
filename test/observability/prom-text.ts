/** Reads samples out of a Prometheus text exposition (what GET /metrics returns). */
export interface Sample { name: string; labels: Record<string, string>; value: number }

export function parseSamples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, '$1');
    out.push({ name: m[1]!, labels, value: m[3] === '+Inf' ? Infinity : Number(m[3]) });
  }
  return out;
}

const same = (a: Record<string, string>, b: Record<string, string>) => Object.keys(a).length === Object.keys(b).length && Object.entries(b).every(([k, v]) => a[k] === v);

/** The value of the sample with exactly these labels (undefined when there is none). */
export function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && same(s.labels, labels))?.value;
}

/** Every sample of a metric whose labels include `labels`. */
export function samplesOf(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** Cumulative bucket counts of one histogram series, as { le: count }. */
export function buckets(samples: Sample[], name: string, labels: Record<string, string>): Record<string, number> {
  return Object.fromEntries(samples.filter((s) => s.name === `${name}_bucket` && same(Object.fromEntries(Object.entries(s.labels).filter(([k]) => k !== 'le')), labels)).map((s) => [s.labels.le!, s.value]));
}
