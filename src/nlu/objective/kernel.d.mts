/** Sparse training data (CSR) as the kernel reads it; the arrays may live in SharedArrayBuffers. */
export interface KernelData {
  N: number;
  F: number;
  C: number;
  offsets: Int32Array;
  idx: Int32Array;
  val: Float64Array;
  y: Int32Array;
  sw: Float64Array;
}
export function partialObjective(d: KernelData, theta: Float64Array, grad: Float64Array, from: number, to: number): number;
