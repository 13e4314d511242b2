/** The training objective on worker threads gives what the single-threaded kernel gives, deterministically. */
import { partialObjective } from '../../src/nlu/objective/kernel.mjs';
import { createObjective, PARALLEL_MIN_WORK, type Row } from '../../src/nlu/objective/parallel.js';
import { mulberry32 } from '../support/rng.js';

function synthetic(N: number, F: number, C: number, seed = 3): { rows: Row[]; sw: number[] } {
  const r = mulberry32(seed);
  const rows: Row[] = [];
  for (let n = 0; n < N; n++) {
    const k = 3 + Math.floor(r() * 6);
    const idx = [...new Set(Array.from({ length: k }, () => Math.floor(r() * F)))].sort((a, b) => a - b);
    rows.push({ y: Math.floor(r() * C), idx: Int32Array.from(idx), val: Float64Array.from(idx.map(() => r())) });
  }
  return { rows, sw: rows.map(() => 1 / N) };
}

it('splits large data over worker threads and matches the single-threaded sum', () => {
  const N = 4000, F = 300, C = 120;
  expect(N * C).toBeGreaterThanOrEqual(PARALLEL_MIN_WORK);
  const { rows, sw } = synthetic(N, F, C);
  const P = F * C + C;
  const r = mulberry32(9);
  const theta = Float64Array.from({ length: P }, () => (r() - 0.5) * 0.2);
  const l2 = 1e-3;

  // reference: the kernel over all rows on this thread, plus the penalty
  const offsets = new Int32Array(N + 1);
  let nnz = 0;
  rows.forEach((row, n) => { offsets[n] = nnz; nnz += row.idx.length; });
  offsets[N] = nnz;
  const idx = new Int32Array(nnz);
  const val = new Float64Array(nnz);
  rows.forEach((row, n) => { idx.set(row.idx, offsets[n]!); val.set(row.val, offsets[n]!); });
  const gRef = new Float64Array(P);
  let lRef = partialObjective({ N, F, C, offsets, idx, val, y: Int32Array.from(rows.map((x) => x.y)), sw: Float64Array.from(sw) }, theta, gRef, 0, N);
  for (let p = 0; p < F * C; p++) { lRef += 0.5 * l2 * theta[p]! ** 2; gRef[p]! += l2 * theta[p]!; }

  const obj = createObjective(rows, sw, F, C, l2);
  try {
    const g1 = new Float64Array(P);
    const l1 = obj.f(theta, g1);
    expect(l1).toBeCloseTo(lRef, 10);
    let maxDiff = 0;
    for (let p = 0; p < P; p++) maxDiff = Math.max(maxDiff, Math.abs(g1[p]! - gRef[p]!));
    expect(maxDiff).toBeLessThan(1e-12);
    // same input, same bits (fixed parts, fixed summation order)
    const g2 = new Float64Array(P);
    expect(obj.f(theta, g2)).toBe(l1);
    expect(Buffer.from(g2.buffer).equals(Buffer.from(g1.buffer))).toBe(true);
  } finally {
    obj.close();
  }
  expect(() => obj.f(theta, new Float64Array(P))).toThrow(/after close/);
});

it('computes small data on the calling thread', () => {
  const { rows, sw } = synthetic(50, 20, 4);
  const obj = createObjective(rows, sw, 20, 4, 0);
  const g = new Float64Array(20 * 4 + 4);
  // at theta = 0 every class has probability 1/C: loss = ln C
  expect(obj.f(new Float64Array(g.length), g)).toBeCloseTo(Math.log(4), 12);
  obj.close();
});
