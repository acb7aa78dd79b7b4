/**
 * The dense linear algebra of the dataset map, run by onnxruntime (its MatMul is multi-threaded and
 * vectorised; the same loops in JavaScript were 10-20 times slower): exact k-nearest neighbours by
 * brute force (MatMul + TopK on squared distances, as scikit-learn's NearestNeighbors(algorithm="brute")),
 * and a covariance matrix. Each graph is a small model built here; the base points are baked in as
 * weights, so a run only feeds one block of queries.
 */
import type * as ort from 'onnxruntime-node';
import * as ortRuntime from 'onnxruntime-node';
import { ApiError } from '../../../src-shared/errors.ts';
import {
  floatTensor,
  int64Tensor,
  intAttr,
  onnx,
  type AttributeProto,
  type NodeProto,
  type TensorProto,
} from '../../models/onnx/model.ts';

export type SessionFactory = (bytes: Uint8Array) => Promise<ort.InferenceSession>;

export interface Neighbours {
  /** Row i holds its k neighbours' indices (into the base), nearest first. */
  indices: Int32Array;
  /** Euclidean distances, in the same order. */
  distances: Float32Array;
  k: number;
}

export interface RunHooks {
  signal?: AbortSignal;
  progress?: (done: number, total: number) => void;
}

/** Query rows a run: the [block, n] distance matrix of 70,000 base points is 70 MB at 256. */
const QUERY_BLOCK = 256;
const SPARE = 4;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

function valueInfo(name: string, elemType: number, dims: (number | string)[]) {
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: {
        elemType,
        shape: onnx.TensorShapeProto.create({
          dim: dims.map((d) =>
            typeof d === 'number'
              ? onnx.TensorShapeProto.Dimension.create({ dimValue: d })
              : onnx.TensorShapeProto.Dimension.create({ dimParam: d }),
          ),
        }),
      },
    }),
  });
}

function model(
  nodes: NodeProto[],
  inputs: ReturnType<typeof valueInfo>[],
  outputs: ReturnType<typeof valueInfo>[],
  initializers: TensorProto[],
): Uint8Array {
  const proto = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: 13 })],
    producerName: 'xaiws-map',
    graph: onnx.GraphProto.create({
      name: 'map',
      node: nodes,
      input: inputs,
      output: outputs,
      initializer: initializers,
    }),
  });
  return onnx.ModelProto.encode(proto).finish();
}

const node = (opType: string, input: string[], output: string[], attribute: AttributeProto[] = []) =>
  onnx.NodeProto.create({ opType, input, output, attribute, name: output[0] });

/**
 * The k nearest base points of every query (row-major [count, dims] each), by Euclidean distance.
 * `selfQueries`: the queries are the base itself, and each point's own row is left out (an exact
 * duplicate of it is not: it is a neighbour at distance 0).
 */
export async function nearestNeighbours(
  create: SessionFactory,
  base: Float32Array,
  queries: Float32Array | 'self',
  dims: number,
  k: number,
  hooks: RunHooks = {},
): Promise<Neighbours> {
  const n = base.length / dims;
  const self = queries === 'self';
  const rows = self ? base : queries;
  const m = rows.length / dims;
  const wanted = Math.min(k, n - (self ? 1 : 0));
  if (!Number.isInteger(n) || !Number.isInteger(m) || wanted < 1)
    throw new ApiError('invalid_request', `Nearest neighbours need at least ${self ? 2 : 1} points of ${dims} values`);
  // A few more candidates than wanted, for the re-ranking below.
  const fetch = Math.min(n, wanted + (self ? 1 : 0) + SPARE);
  const transposed = new Float32Array(dims * n);
  const norms = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < dims; j++) {
      const v = base[i * dims + j]!;
      transposed[j * n + i] = v;
      s += v * v;
    }
    norms[i] = s;
  }
  // ||q - b||^2 = ||q||^2 - 2 q.b + ||b||^2; the query's own norm does not change its ranking and is added after.
  const bytes = model(
    [
      node('MatMul', ['queries', 'base'], ['products']),
      node('Mul', ['products', 'minus_two'], ['scaled']),
      node('Add', ['scaled', 'norms'], ['partial']),
      node('TopK', ['partial', 'k'], ['values', 'indices'], [intAttr('axis', 1), intAttr('largest', 0)]),
    ],
    [valueInfo('queries', FLOAT, ['m', dims])],
    [valueInfo('values', FLOAT, ['m', fetch]), valueInfo('indices', INT64, ['m', fetch])],
    [
      floatTensor('base', [dims, n], transposed),
      floatTensor('norms', [1, n], norms),
      floatTensor('minus_two', [], [-2]),
      int64Tensor('k', [1], [fetch]),
    ],
  );
  const session = await create(bytes);
  try {
    const indices = new Int32Array(m * wanted);
    const distances = new Float32Array(m * wanted);
    for (let start = 0; start < m; start += QUERY_BLOCK) {
      if (hooks.signal?.aborted) throw new ApiError('cancelled', 'Nearest neighbours were stopped');
      const count = Math.min(QUERY_BLOCK, m - start);
      const block = rows.subarray(start * dims, (start + count) * dims);
      const out = await session.run({ queries: new ortRuntime.Tensor('float32', block, [count, dims]) });
      const found = out['indices']!.data as BigInt64Array;
      for (let r = 0; r < count; r++) {
        const i = start + r;
        // The expanded form loses digits to cancellation in float32 (0.003 for a copy at norm 8): the
        // candidates' distances are measured again directly, and re-ranked.
        const candidates: { index: number; distance: number }[] = [];
        for (let c = 0; c < fetch; c++) {
          const index = Number(found[r * fetch + c]);
          if (self && index === i) continue;
          let s = 0;
          for (let j = 0; j < dims; j++) s += (rows[i * dims + j]! - base[index * dims + j]!) ** 2;
          candidates.push({ index, distance: Math.sqrt(s) });
        }
        candidates.sort((a, b) => a.distance - b.distance || a.index - b.index);
        for (let w = 0; w < wanted; w++) {
          indices[i * wanted + w] = candidates[w]!.index;
          distances[i * wanted + w] = candidates[w]!.distance;
        }
      }
      hooks.progress?.(start + count, m);
    }
    return { indices, distances, k: wanted };
  } finally {
    await session.release();
  }
}

/** The sum of x^T x over row blocks of a centred [n, dims] matrix, in double precision. */
export async function covariance(
  create: SessionFactory,
  centred: Float32Array,
  dims: number,
  hooks: RunHooks = {},
): Promise<Float64Array> {
  const n = centred.length / dims;
  const bytes = model(
    [node('Transpose', ['x'], ['xt']), node('MatMul', ['xt', 'x'], ['gram'])],
    [valueInfo('x', FLOAT, ['m', dims])],
    [valueInfo('gram', FLOAT, [dims, dims])],
    [],
  );
  const session = await create(bytes);
  const sum = new Float64Array(dims * dims);
  const block = Math.max(256, Math.floor(2 ** 22 / dims));
  try {
    for (let start = 0; start < n; start += block) {
      if (hooks.signal?.aborted) throw new ApiError('cancelled', 'The covariance was stopped');
      const count = Math.min(block, n - start);
      const x = centred.subarray(start * dims, (start + count) * dims);
      const out = await session.run({ x: new ortRuntime.Tensor('float32', x, [count, dims]) });
      const gram = out['gram']!.data as Float32Array;
      for (let i = 0; i < gram.length; i++) sum[i]! += gram[i]!;
    }
    const scale = 1 / Math.max(1, n - 1);
    for (let i = 0; i < sum.length; i++) sum[i]! *= scale;
    return sum;
  } finally {
    await session.release();
  }
}
