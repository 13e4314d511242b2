// The softmax cross-entropy kernel, in plain JavaScript so that worker threads can load it without a
// TypeScript loader (see parallel.ts). Types: kernel.d.mts.

/**
 * Adds the loss and gradient of examples [from, to) to `grad` (which it does not clear) and returns
 * their loss: Σ sw[n] · (log Σ_c exp(z_c) − z_y), z = bias + Σ_j theta[idx_j, ·] · val_j.
 * Data layout: CSR rows (offsets, idx, val), labels y, sample weights sw; theta and grad are
 * F·C weights (feature-major) followed by C biases.
 */
export function partialObjective(d, theta, grad, from, to) {
  const { C, F, offsets, idx, val, y, sw } = d;
  const logits = new Float64Array(C);
  const FC = F * C;
  let loss = 0;
  for (let n = from; n < to; n++) {
    for (let c = 0; c < C; c++) logits[c] = theta[FC + c];
    const end = offsets[n + 1];
    for (let j = offsets[n]; j < end; j++) {
      const base = idx[j] * C;
      const x = val[j];
      for (let c = 0; c < C; c++) logits[c] += theta[base + c] * x;
    }
    let max = -Infinity;
    for (let c = 0; c < C; c++) if (logits[c] > max) max = logits[c];
    let sum = 0;
    for (let c = 0; c < C; c++) sum += Math.exp(logits[c] - max);
    const w = sw[n];
    const label = y[n];
    loss += w * (Math.log(sum) + max - logits[label]);
    for (let c = 0; c < C; c++) logits[c] = w * (Math.exp(logits[c] - max) / sum - (c === label ? 1 : 0));
    for (let j = offsets[n]; j < end; j++) {
      const base = idx[j] * C;
      const x = val[j];
      for (let c = 0; c < C; c++) grad[base + c] += logits[c] * x;
    }
    for (let c = 0; c < C; c++) grad[FC + c] += logits[c];
  }
  return loss;
}
