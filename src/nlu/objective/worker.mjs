// A training worker (see parallel.ts): waits on a shared control word, computes its share of the
// loss and gradient into its own shared gradient buffer, reports the loss and signals completion.
import { workerData } from 'node:worker_threads';
import { partialObjective } from './kernel.mjs';

const { data, theta: thetaBuf, grad: gradBuf, control: controlBuf, loss: lossBuf, slot, from, to } = workerData;
const d = {
  N: data.N, F: data.F, C: data.C,
  offsets: new Int32Array(data.offsets), idx: new Int32Array(data.idx), val: new Float64Array(data.val),
  y: new Int32Array(data.y), sw: new Float64Array(data.sw),
};
const theta = new Float64Array(thetaBuf);
const grad = new Float64Array(gradBuf);
const control = new Int32Array(controlBuf); // [0]: generation (bumped by the main thread), [1]: workers done, [2]: stop, [3]: workers ready
const loss = new Float64Array(lossBuf);
let seen = 0;
Atomics.add(control, 3, 1); // ready
Atomics.notify(control, 3);
for (;;) {
  Atomics.wait(control, 0, seen);
  seen = Atomics.load(control, 0);
  if (Atomics.load(control, 2) === 1) break;
  grad.fill(0);
  loss[slot] = partialObjective(d, theta, grad, from, to);
  Atomics.add(control, 1, 1);
  Atomics.notify(control, 1);
}
