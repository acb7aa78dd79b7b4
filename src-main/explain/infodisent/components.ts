/**
 * InfoDisent contributions (METHODS.md 3): the head ends in a linear layer logits = W v + b over the
 * channel evidence v, so channel d's share of class c's logit is W[c,d] x v_d and the shares plus b_c
 * give the logit back. W and b are read from the ONNX graph: the Gemm (or MatMul + Add) that produces
 * the logits from the evidence output.
 */
import { ApiError } from '../../../src-shared/errors.ts';
import { attrFloat, attrInt, OnnxModel, tensorDims, tensorValues } from '../../models/onnx/model.ts';

export interface LinearHead {
  /** [classes x channels], row-major. */
  weight: Float64Array;
  bias: Float64Array;
  classes: number;
  channels: number;
}

export function linearHead(
  bytes: Uint8Array,
  label: string,
  names = { evidence: 'evidence', logits: 'logits' },
): LinearHead {
  const model = OnnxModel.read(bytes, label);
  const unsupported = (why: string) =>
    new ApiError('model_unsupported_op', `${label}: cannot read the InfoDisent head's linear layer: ${why}`);
  const node = model.producer(names.logits);
  if (!node) throw unsupported(`no node produces "${names.logits}"`);
  const constant = (name: string | undefined | null) => {
    const tensor = name ? model.constant(name) : undefined;
    return tensor ? { dims: tensorDims(tensor), values: tensorValues(tensor) } : undefined;
  };
  let matrix: { dims: number[]; values: Float32Array | Float64Array } | undefined;
  let bias: { dims: number[]; values: Float32Array | Float64Array } | undefined;
  let transposed = false;
  let alpha = 1;
  let beta = 1;
  if (node.opType === 'Gemm') {
    if (node.input![0] !== names.evidence)
      throw unsupported(`the Gemm "${node.name}" reads "${node.input![0]}", not "${names.evidence}"`);
    if (attrInt(node, 'transA', 0) !== 0) throw unsupported(`the Gemm "${node.name}" transposes its input`);
    matrix = constant(node.input![1]);
    bias = constant(node.input![2]);
    transposed = attrInt(node, 'transB', 0) === 1;
    alpha = attrFloat(node, 'alpha', 1);
    beta = attrFloat(node, 'beta', 1);
  } else if (node.opType === 'Add') {
    const product = node.input!.map((name) => model.producer(name ?? '')).find((n) => n?.opType === 'MatMul');
    if (!product || product.input![0] !== names.evidence)
      throw unsupported(`"${names.logits}" comes from an Add that is not MatMul(${names.evidence}, W) + b`);
    matrix = constant(product.input![1]);
    bias = constant(node.input!.find((name) => name !== product.output![0]));
  } else {
    throw unsupported(
      `"${names.logits}" comes from a ${node.opType} node ("${node.name}"), expected Gemm or MatMul + Add`,
    );
  }
  if (!matrix || matrix.dims.length !== 2) throw unsupported('its weight is not a constant matrix');
  const [rows, cols] = matrix.dims as [number, number];
  const classes = transposed ? rows : cols;
  const channels = transposed ? cols : rows;
  const weight = new Float64Array(classes * channels);
  for (let c = 0; c < classes; c++) {
    for (let d = 0; d < channels; d++)
      weight[c * channels + d] = alpha * matrix.values[transposed ? c * cols + d : d * cols + c]!;
  }
  const b = new Float64Array(classes);
  if (bias) {
    if (bias.values.length !== classes && bias.values.length !== 1)
      throw unsupported(`its bias has ${bias.values.length} values for ${classes} classes`);
    for (let c = 0; c < classes; c++) b[c] = beta * bias.values[bias.values.length === 1 ? 0 : c]!;
  }
  return { weight, bias: b, classes, channels };
}

/** W[c,d] x v_d for every channel d, and the logit they add up to with the bias. */
export function contributions(
  head: LinearHead,
  evidence: ArrayLike<number>,
  cls: number,
): { contributions: Float64Array; logit: number; bias: number } {
  if (evidence.length !== head.channels)
    throw new Error(`evidence has ${evidence.length} channels, the head ${head.channels}`);
  const out = new Float64Array(head.channels);
  let logit = head.bias[cls]!;
  for (let d = 0; d < head.channels; d++) {
    out[d] = head.weight[cls * head.channels + d]! * evidence[d]!;
    logit += out[d]!;
  }
  return { contributions: out, logit, bias: head.bias[cls]! };
}

/** Channel order by |contribution|, largest first (ties by channel). */
export function rankChannels(values: ArrayLike<number>): number[] {
  return Array.from({ length: values.length }, (_, d) => d).sort(
    (a, b) => Math.abs(values[b]!) - Math.abs(values[a]!) || a - b,
  );
}

/** A patch of `size` around feature-map cell (row, col), clamped inside the image (the toolkit's rule). */
export function patchOrigin(
  row: number,
  col: number,
  mapShape: [number, number],
  imageShape: [number, number],
  size: number,
): { y: number; x: number } {
  const [mh, mw] = mapShape;
  const [h, w] = imageShape;
  const cy = Math.floor(((row + 0.5) * h) / mh);
  const cx = Math.floor(((col + 0.5) * w) / mw);
  return {
    y: Math.min(Math.max(cy - Math.floor(size / 2), 0), h - size),
    x: Math.min(Math.max(cx - Math.floor(size / 2), 0), w - size),
  };
}
