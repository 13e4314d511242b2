/**
 * Jest environment for tests that run onnxruntime-node (the embedding model): jest's node environment
 * gives each test file its own typed-array constructors, and onnxruntime rejects tensors whose data is
 * not an instance of the host's Float32Array/BigInt64Array/…; this one shares the host's constructors.
 * Use with a docblock in the test file: `@jest-environment ./test/support/node-host-env.cjs`.
 */
const { TestEnvironment } = require('jest-environment-node');

const SHARED = [
  'ArrayBuffer', 'SharedArrayBuffer', 'DataView',
  'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array',
  'Int32Array', 'Uint32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array',
];

class NodeHostEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}

module.exports = NodeHostEnvironment;
