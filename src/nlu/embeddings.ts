/**
 * Optional sentence embeddings: a BERT-style feature-extraction model run by @xenova/transformers from a
 * local folder only (never the network), mean-pooled over the real tokens and L2-normalised.
 *
 * The folder is what transformers.js exports for a Hugging Face model (e.g. Xenova/all-MiniLM-L6-v2):
 *   config.json, tokenizer.json, tokenizer_config.json, onnx/model.onnx and/or onnx/model_quantized.onnx.
 * Loading sets transformers' process-wide `env` to local-only (allowRemoteModels = false, no file cache);
 * loads are serialised because `env.localModelPath` is global.
 */
import { access, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { types } from 'node:util';
import { env, pipeline, type FeatureExtractionPipeline } from '@xenova/transformers';

/** The files a model folder must hold (plus one of ONNX_FILES). */
export const REQUIRED_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json'] as const;
/** The ONNX weights, full precision first; at least one must exist. */
export const ONNX_FILES = ['onnx/model.onnx', 'onnx/model_quantized.onnx'] as const;
const EXPECTED =
  'expected a transformers.js model folder with config.json, tokenizer.json, tokenizer_config.json and ' +
  'onnx/model.onnx and/or onnx/model_quantized.onnx (e.g. a local copy of Xenova/all-MiniLM-L6-v2)';

/** Sentence encoder: one unit-length vector per text. */
export interface Embedder {
  /** The model's name (config.json `_name_or_path`, else the folder name). */
  readonly modelId: string;
  /** Length of every vector `embed` returns. */
  readonly dimension: number;
  /** Which ONNX file was loaded, relative to the folder (e.g. 'onnx/model.onnx'). */
  readonly onnxFile: string;
  /** Mean-pooled (padding excluded), L2-normalised embeddings, in the order of `texts`. */
  embed(texts: readonly string[]): Promise<Float32Array[]>;
  /** Releases the ONNX session. */
  dispose(): Promise<void>;
}

export interface EmbedderOptions {
  /** true: onnx/model_quantized.onnx, false: onnx/model.onnx; default: model.onnx if present, else the quantized one. */
  quantized?: boolean;
  /** Texts per inference call (padding is per batch); default 32. */
  batchSize?: number;
}

/** A model folder that is missing, incomplete or does not load. */
export class EmbeddingModelError extends Error {
  readonly code = 'EMBEDDING_MODEL_INVALID';
  constructor(message: string, readonly dir: string, readonly file?: string) {
    super(message);
    this.name = 'EmbeddingModelError';
  }
}

const exists = (file: string): Promise<boolean> => access(file).then(() => true, () => false);

async function readJson(dir: string, file: string): Promise<Record<string, unknown>> {
  const full = path.join(dir, file);
  if (!(await exists(full))) throw new EmbeddingModelError(`embedding model folder ${dir} has no ${file}; ${EXPECTED}`, dir, file);
  let value: unknown;
  try {
    value = JSON.parse(await readFile(full, 'utf8'));
  } catch (e) {
    throw new EmbeddingModelError(`${full} is not valid JSON (${(e as Error).message}); ${EXPECTED}`, dir, file);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new EmbeddingModelError(`${full} must hold a JSON object; ${EXPECTED}`, dir, file);
  }
  return value as Record<string, unknown>;
}

/** Checks the folder and picks the ONNX file; every problem names the file and what is expected. */
async function checkFolder(dir: string, quantized: boolean | undefined): Promise<{ config: Record<string, unknown>; onnxFile: string }> {
  const info = await stat(dir).catch(() => null);
  if (!info) throw new EmbeddingModelError(`embedding model folder not found: ${dir}; ${EXPECTED}`, dir);
  if (!info.isDirectory()) throw new EmbeddingModelError(`embedding model path ${dir} is not a folder; ${EXPECTED}`, dir);
  const config = await readJson(dir, 'config.json');
  await readJson(dir, 'tokenizer.json');
  await readJson(dir, 'tokenizer_config.json');
  const candidates = quantized === undefined ? ONNX_FILES : [quantized ? ONNX_FILES[1] : ONNX_FILES[0]];
  for (const file of candidates) if (await exists(path.join(dir, file))) return { config, onnxFile: file };
  throw new EmbeddingModelError(`embedding model folder ${dir} has no ${candidates.join(' or ')}; ${EXPECTED}`, dir, candidates[0]);
}

let loading: Promise<unknown> = Promise.resolve();

/** Runs loads one after another: transformers' `env.localModelPath` is process-wide. */
function serialised<T>(load: () => Promise<T>): Promise<T> {
  const run = loading.then(load, load);
  loading = run.catch(() => undefined);
  return run;
}

/**
 * Loads a sentence encoder from a local model folder (see the top of this file). Never downloads:
 * `env.allowRemoteModels` is set to false and stays so. Throws EmbeddingModelError naming the missing or
 * invalid file. Runs one probe sentence to learn (and check) the vector dimension.
 */
export async function loadEmbedder(dir: string, opts: EmbedderOptions = {}): Promise<Embedder> {
  const folder = path.resolve(dir);
  const batchSize = opts.batchSize ?? 32;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.useFSCache = false;
  env.useBrowserCache = false;
  const { config, onnxFile } = await checkFolder(folder, opts.quantized);
  const modelId = typeof config._name_or_path === 'string' && config._name_or_path ? config._name_or_path : path.basename(folder);

  // transformers.js reports onnxruntime's own load error only through console.warn (then retries on
  // wasm and throws a vaguer one): keep the Errors it warns with (still printing them) for our message.
  const causes: string[] = [];
  let extractor: FeatureExtractionPipeline;
  try {
    extractor = await serialised(async () => {
      env.allowRemoteModels = false;
      env.localModelPath = `${path.dirname(folder)}/`;
      const warn = console.warn;
      console.warn = (...args: unknown[]) => {
        for (const a of args) if (types.isNativeError(a)) causes.push(a.message); // any realm (jest, native addon)
        warn.apply(console, args);
      };
      try {
        return (await pipeline('feature-extraction', path.basename(folder), {
          quantized: onnxFile === ONNX_FILES[1],
          local_files_only: true,
        })) as FeatureExtractionPipeline;
      } finally {
        console.warn = warn;
      }
    });
  } catch (e) {
    const cause = [...new Set([...causes, (e as Error).message])].join('; ');
    throw new EmbeddingModelError(`cannot load the embedding model ${folder} (${onnxFile}): ${cause}; ${EXPECTED}`, folder, onnxFile);
  }

  async function run(batch: readonly string[]): Promise<Float32Array[]> {
    const out = await extractor([...batch], { pooling: 'mean', normalize: true });
    const [n, d] = out.dims as number[];
    if (out.dims.length !== 2 || n !== batch.length || !d) throw new Error(`embedding model ${modelId} returned a tensor of shape [${out.dims.join(', ')}]`);
    const data = out.data as Float32Array;
    return Array.from({ length: n }, (_, i) => Float32Array.from(data.subarray(i * d, (i + 1) * d)));
  }

  let dimension: number;
  try {
    dimension = (await run(['probe']))[0]!.length;
  } catch (e) {
    await extractor.dispose().catch(() => undefined);
    throw new EmbeddingModelError(
      `the embedding model ${folder} (${onnxFile}) loads but fails on a probe sentence (${(e as Error).message}); ` +
        'a sentence encoder takes input_ids, attention_mask (and token_type_ids) and outputs last_hidden_state [batch, sequence, hidden]',
      folder,
      onnxFile,
    );
  }

  return {
    modelId,
    dimension,
    onnxFile,
    async embed(texts: readonly string[]): Promise<Float32Array[]> {
      const vectors: Float32Array[] = [];
      for (let i = 0; i < texts.length; i += batchSize) vectors.push(...(await run(texts.slice(i, i + batchSize).map(String))));
      return vectors;
    },
    async dispose(): Promise<void> {
      await extractor.dispose();
    },
  };
}
