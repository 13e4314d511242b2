/**
 * Test support: writes a tiny random-weight BERT-style sentence encoder into a folder laid out the way
 * @xenova/transformers loads a local model (config.json, tokenizer.json, tokenizer_config.json,
 * onnx/model.onnx), so tests run the real tokeniser, ONNX inference and pooling without any download.
 *
 * The ONNX graph (built with onnx-proto, opset 13): word + position + token-type embeddings → layer norm →
 * one single-head self-attention block (padding masked out with an additive −10000) → residual + layer
 * norm → tanh feed-forward → residual + layer norm → `last_hidden_state` [batch, sequence, hidden].
 * Weights come from a seeded PRNG, so the same options give the same bytes. The WordPiece vocabulary is
 * the special tokens, punctuation, a-z/0-9 (and their `##` continuations, so no word is ever [UNK]) and
 * the given words: sentences made of different words get clearly different embeddings.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import onnxProto from 'onnx-proto';
import { mulberry32 } from './rng.js';

const { onnx } = onnxProto;
type Tensor = InstanceType<typeof onnx.TensorProto>;

export const TINY_BERT_HIDDEN = 32;
export const TINY_BERT_MAX_LENGTH = 64;
const FFN = 64;
const SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;
const PUNCTUATION = [...'.,!?\'"-:;()/&@#$%*+=_'];
const CHARS = [...'abcdefghijklmnopqrstuvwxyz0123456789'];

export interface TinyBertOptions {
  /** Words (or whole sentences: they are split) the vocabulary must hold as single tokens. */
  words?: readonly string[];
  /** PRNG seed of the weights (default 7). */
  seed?: number;
  /** Which ONNX files to write (same bytes; default just model.onnx). */
  onnxFiles?: readonly ('model.onnx' | 'model_quantized.onnx')[];
}

/** The WordPiece vocabulary (index = token id) for the given words. */
export function tinyBertVocabulary(words: readonly string[] = []): string[] {
  const base = [...SPECIALS, ...PUNCTUATION, ...CHARS, ...CHARS.map((c) => `##${c}`)];
  const have = new Set(base);
  const extra = [...new Set(words.flatMap((w) => w.toLowerCase().split(/[^a-z0-9]+/)))].filter((w) => w && !have.has(w)).sort();
  return [...base, ...extra];
}

const prng = mulberry32;

/** Builds the ONNX model's bytes for a vocabulary of `vocabSize` tokens. */
export function tinyBertOnnx(vocabSize: number, seed = 7): Uint8Array {
  const rand = prng(seed);
  const normal = (std: number): number => std * Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const H = TINY_BERT_HIDDEN;
  const initializers: Tensor[] = [];
  const floats = (name: string, dims: number[], values: (i: number) => number): string => {
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = values(i);
    initializers.push(onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(data.buffer) }));
    return name;
  };
  const int64s = (name: string, dims: number[], values: number[]): string => {
    initializers.push(onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.INT64, int64Data: values }));
    return name;
  };
  const random = (name: string, dims: number[], std: number): string => floats(name, dims, () => normal(std));
  const nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  let counter = 0;
  const op = (opType: string, input: string[], attribute: InstanceType<typeof onnx.AttributeProto>[] = []): string => {
    const out = `${opType.toLowerCase()}_${counter++}`;
    nodes.push(onnx.NodeProto.create({ opType, input, output: [out], name: out, attribute }));
    return out;
  };
  const ints = (name: string, values: number[]) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: values });
  const int = (name: string, value: number) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i: value });

  const eps = floats('eps', [], () => 1e-12);
  let layerNorms = 0;
  const layerNorm = (x: string): string => {
    const n = layerNorms++;
    const gamma = floats(`ln${n}.weight`, [H], () => 1);
    const beta = floats(`ln${n}.bias`, [H], () => 0);
    const centred = op('Sub', [x, op('ReduceMean', [x], [ints('axes', [-1])])]);
    const variance = op('ReduceMean', [op('Mul', [centred, centred])], [ints('axes', [-1])]);
    return op('Add', [op('Mul', [op('Div', [centred, op('Sqrt', [op('Add', [variance, eps])])]), gamma]), beta]);
  };

  // Embeddings.
  const zero = int64s('zero', [], [0]);
  const one = int64s('one', [], [1]);
  const words = op('Gather', [random('word_embeddings', [vocabSize, H], 1), 'input_ids']);
  const seqLen = op('Gather', [op('Shape', ['input_ids']), one], [int('axis', 0)]);
  const positions = op('Gather', [random('position_embeddings', [TINY_BERT_MAX_LENGTH, H], 0.1), op('Range', [zero, seqLen, one])]);
  const types = op('Gather', [random('token_type_embeddings', [2, H], 0.02), 'token_type_ids']);
  const x0 = layerNorm(op('Add', [op('Add', [words, positions]), types]));

  // Self-attention, one head; padded keys get −10000 before the softmax.
  const q = op('MatMul', [x0, random('attention.query', [H, H], 1 / Math.sqrt(H))]);
  const k = op('MatMul', [x0, random('attention.key', [H, H], 1 / Math.sqrt(H))]);
  const v = op('MatMul', [x0, random('attention.value', [H, H], 1 / Math.sqrt(H))]);
  const scores = op('Mul', [op('MatMul', [q, op('Transpose', [k], [ints('perm', [0, 2, 1])])]), floats('scale', [], () => 1 / Math.sqrt(H))]);
  const mask = op('Unsqueeze', [op('Cast', ['attention_mask'], [int('to', onnx.TensorProto.DataType.FLOAT)]), int64s('axis1', [1], [1])]);
  const maskBias = op('Mul', [op('Sub', [mask, floats('one_f', [], () => 1)]), floats('big', [], () => 10000)]);
  const attention = op('Softmax', [op('Add', [scores, maskBias])], [int('axis', -1)]);
  const context = op('MatMul', [op('MatMul', [attention, v]), random('attention.output', [H, H], 1 / Math.sqrt(H))]);
  const x1 = layerNorm(op('Add', [x0, context]));

  // Feed-forward.
  const hidden = op('Tanh', [op('Add', [op('MatMul', [x1, random('ffn.in', [H, FFN], 1 / Math.sqrt(H))]), random('ffn.in.bias', [FFN], 0.1)])]);
  const ffn = op('Add', [op('MatMul', [hidden, random('ffn.out', [FFN, H], 1 / Math.sqrt(FFN))]), random('ffn.out.bias', [H], 0.1)]);
  const last = layerNorm(op('Add', [x1, ffn]));
  nodes.push(onnx.NodeProto.create({ opType: 'Identity', input: [last], output: ['last_hidden_state'], name: 'output' }));

  const tensorType = (name: string, elemType: number, dims: string[]) =>
    onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType, shape: { dim: dims.map((dimParam) => ({ dimParam })) } } } });
  const INT64 = onnx.TensorProto.DataType.INT64;
  const graph = onnx.GraphProto.create({
    name: 'tiny-bert',
    node: nodes,
    initializer: initializers,
    input: ['input_ids', 'attention_mask', 'token_type_ids'].map((n) => tensorType(n, INT64, ['batch', 'sequence'])),
    output: [tensorType('last_hidden_state', onnx.TensorProto.DataType.FLOAT, ['batch', 'sequence', 'hidden'])],
  });
  const model = onnx.ModelProto.create({ irVersion: 7, producerName: 'errand-tests', opsetImport: [{ domain: '', version: 13 }], graph });
  return onnx.ModelProto.encode(model).finish();
}

/** The tokenizer.json of a BERT-style (lower-casing) WordPiece tokenizer over `vocab`. */
export function tinyBertTokenizer(vocab: readonly string[]): object {
  const id = (t: string): number => vocab.indexOf(t);
  const special = (t: string) => ({ SpecialToken: { id: t, type_id: 0 } });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIALS.map((t) => ({ id: id(t), content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [special('[CLS]'), { Sequence: { id: 'A', type_id: 0 } }, special('[SEP]')],
      pair: [special('[CLS]'), { Sequence: { id: 'A', type_id: 0 } }, special('[SEP]'), { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } }],
      special_tokens: Object.fromEntries(['[CLS]', '[SEP]'].map((t) => [t, { id: t, ids: [id(t)], tokens: [t] }])),
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: Object.fromEntries(vocab.map((t, i) => [t, i])) },
  };
}

/** Writes the whole model folder into `dir` (created if needed); returns its vocabulary. */
export async function writeTinyBert(dir: string, opts: TinyBertOptions = {}): Promise<{ dir: string; vocab: string[] }> {
  const vocab = tinyBertVocabulary(opts.words);
  await mkdir(path.join(dir, 'onnx'), { recursive: true });
  const json = (file: string, value: unknown) => writeFile(path.join(dir, file), `${JSON.stringify(value, null, 1)}\n`);
  await json('config.json', {
    _name_or_path: 'errand-tests/tiny-bert',
    model_type: 'bert',
    architectures: ['BertModel'],
    hidden_size: TINY_BERT_HIDDEN,
    num_hidden_layers: 1,
    num_attention_heads: 1,
    intermediate_size: FFN,
    hidden_act: 'tanh',
    max_position_embeddings: TINY_BERT_MAX_LENGTH,
    type_vocab_size: 2,
    vocab_size: vocab.length,
  });
  await json('tokenizer_config.json', {
    tokenizer_class: 'BertTokenizer',
    do_lower_case: true,
    model_max_length: TINY_BERT_MAX_LENGTH,
    cls_token: '[CLS]', sep_token: '[SEP]', pad_token: '[PAD]', unk_token: '[UNK]', mask_token: '[MASK]',
  });
  await json('tokenizer.json', tinyBertTokenizer(vocab));
  const bytes = tinyBertOnnx(vocab.length, opts.seed ?? 7);
  for (const file of opts.onnxFiles ?? ['model.onnx']) await writeFile(path.join(dir, 'onnx', file), bytes);
  return { dir, vocab };
}
