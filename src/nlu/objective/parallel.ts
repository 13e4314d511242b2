/**
 * The training objective of model.ts — mean (optionally weighted) softmax cross-entropy plus
 * l2/2·‖W‖² (biases unpenalised) — evaluated synchronously, as L-BFGS needs, but on large data split
 * over PARTS worker threads: the examples and the weights live in SharedArrayBuffers, the main thread
 * bumps a shared generation counter and blocks in Atomics.wait until every worker has added its
 * part; the parts are then summed in a fixed order, so the result does not depend on timing or on
 * the number of cores (a one-core machine runs the same two parts, one after the other).
 * Small data (under PARALLEL_MIN_WORK examples × classes) is computed on the calling thread: worker
 * start-up would cost more than it saves.
 */
import { Worker } from 'node:worker_threads';
import { partialObjective, type KernelData } from './kernel.mjs';

/** Examples × classes from which the work is split over worker threads. */
export const PARALLEL_MIN_WORK = 400_000;
/** Fixed number of parts (not the number of cores: the sums must not depend on the machine). */
export const PARTS = 2;
/** How long the main thread waits for the workers before giving up with an error. */
const WAIT_MS = 300_000;

export interface Row { y: number; idx: Int32Array; val: Float64Array }

export interface Objective {
  /** Loss at theta; writes the gradient into grad. */
  f(theta: Float64Array, grad: Float64Array): number;
  /** Stops the workers (idempotent). */
  close(): void;
}

function alloc<T extends Int32Array | Float64Array>(ctor: { new (b: ArrayBufferLike): T; BYTES_PER_ELEMENT: number }, n: number, shared: boolean): T {
  const bytes = Math.max(1, n) * ctor.BYTES_PER_ELEMENT;
  return new ctor(shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
}

function pack(rows: readonly Row[], sw: readonly number[], F: number, C: number, shared: boolean): KernelData {
  const N = rows.length;
  const nnz = rows.reduce((s, r) => s + r.idx.length, 0);
  const d: KernelData = {
    N, F, C,
    offsets: alloc(Int32Array, N + 1, shared), idx: alloc(Int32Array, nnz, shared), val: alloc(Float64Array, nnz, shared),
    y: alloc(Int32Array, N, shared), sw: alloc(Float64Array, N, shared),
  };
  let at = 0;
  rows.forEach((r, n) => {
    d.offsets[n] = at;
    d.idx.set(r.idx, at);
    d.val.set(r.val, at);
    d.y[n] = r.y;
    d.sw[n] = sw[n]!;
    at += r.idx.length;
  });
  d.offsets[N] = at;
  return d;
}

function addPenalty(theta: Float64Array, grad: Float64Array, FC: number, l2: number): number {
  let loss = 0;
  for (let p = 0; p < FC; p++) {
    loss += 0.5 * l2 * theta[p]! * theta[p]!;
    grad[p]! += l2 * theta[p]!;
  }
  return loss;
}

/** The objective over `rows` (feature indices < F, labels < C) with sample weights `sw`. */
export function createObjective(rows: readonly Row[], sw: readonly number[], F: number, C: number, l2: number): Objective {
  const N = rows.length;
  const FC = F * C;
  const P = FC + C;
  if (N * C < PARALLEL_MIN_WORK) {
    const data = pack(rows, sw, F, C, false);
    return {
      f(theta, grad) {
        grad.fill(0);
        return partialObjective(data, theta, grad, 0, N) + addPenalty(theta, grad, FC, l2);
      },
      close() {},
    };
  }

  const data = pack(rows, sw, F, C, true);
  const theta = alloc(Float64Array, P, true);
  const grads = Array.from({ length: PARTS }, () => alloc(Float64Array, P, true));
  const control = alloc(Int32Array, 4, true);
  const losses = alloc(Float64Array, PARTS, true);
  const buffers = { N, F, C, offsets: data.offsets.buffer, idx: data.idx.buffer, val: data.val.buffer, y: data.y.buffer, sw: data.sw.buffer };
  const workers = grads.map((g, slot) => new Worker(new URL('./worker.mjs', import.meta.url), {
    workerData: {
      data: buffers, theta: theta.buffer, grad: g.buffer, control: control.buffer, loss: losses.buffer, slot,
      from: Math.floor((slot * N) / PARTS), to: Math.floor(((slot + 1) * N) / PARTS),
    },
  }));
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    Atomics.store(control, 2, 1);
    Atomics.add(control, 0, 1);
    Atomics.notify(control, 0);
    for (const w of workers) void w.terminate();
  };
  /** Blocks until control[i] reaches `n`, or throws after WAIT_MS. */
  const waitFor = (i: number, n: number, what: string): void => {
    const deadline = Date.now() + WAIT_MS;
    for (let v = Atomics.load(control, i); v < n; v = Atomics.load(control, i)) {
      if (Date.now() > deadline || Atomics.wait(control, i, v, Math.max(1, deadline - Date.now())) === 'timed-out' && Atomics.load(control, i) < n) {
        close();
        throw new Error(`intent model training: ${what} (${Atomics.load(control, i)} of ${n} worker threads answered within ${WAIT_MS / 1000} s)`);
      }
    }
  };
  waitFor(3, PARTS, 'the training worker threads did not start');
  return {
    f(x, grad) {
      if (closed) throw new Error('intent model training: objective used after close()');
      theta.set(x);
      Atomics.store(control, 1, 0);
      Atomics.add(control, 0, 1);
      Atomics.notify(control, 0);
      waitFor(1, PARTS, 'a training worker thread did not finish its part');
      let loss = 0;
      grad.set(grads[0]!);
      loss += losses[0]!;
      for (let k = 1; k < PARTS; k++) {
        const g = grads[k]!;
        for (let p = 0; p < P; p++) grad[p]! += g[p]!;
        loss += losses[k]!;
      }
      return loss + addPenalty(x, grad, FC, l2);
    },
    close,
  };
}
