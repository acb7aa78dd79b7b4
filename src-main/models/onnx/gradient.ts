/**
 * Gradient graphs for ONNX classifiers. ONNX files carry no backward pass, so this module writes one:
 * starting from a one-hot seed on the chosen class score it walks the forward graph backwards and emits,
 * for every op on the path to the requested tensors, the ONNX nodes of its vector-Jacobian product.
 * The result is one model that returns the scores, the class it differentiated, the requested
 * activations and their gradients in a single run.
 *
 * Static sizes (kernel geometry, broadcast axes, pooling windows) come from a shape table measured by
 * running the model once at batch size 2 (see `probeShapes`), so batch 1 and broadcast 1 never mix up.
 * The batch dimension stays dynamic. Element-wise conventions follow PyTorch's autograd (ReLU passes where
 * x > 0, max pooling sends the gradient to the first maximum of a window, Clip passes strictly inside
 * its bounds as hardtanh/ReLU6 do).
 */
import { ApiError } from '../../../src-shared/errors.ts';
import {
  DataType,
  OnnxModel,
  attrFloat,
  attrInt,
  attrInts,
  attrString,
  floatAttr,
  floatTensor,
  int64Tensor,
  intAttr,
  intsAttr,
  tensorDims,
  tensorValues,
  type AttributeProto,
  type NodeProto,
  type TensorProto,
} from './model.ts';

export type ShapeTable = Map<string, number[]>;

export const GRADIENT_OPS = [
  'Conv', 'ConvTranspose', 'Gemm', 'MatMul', 'Add', 'Sub', 'Mul', 'Div', 'Relu', 'LeakyRelu', 'Clip',
  'Sigmoid', 'Tanh', 'HardSigmoid', 'HardSwish', 'BatchNormalization', 'MaxPool', 'AveragePool',
  'GlobalAveragePool', 'Flatten', 'Reshape', 'Transpose', 'Concat', 'Identity', 'Dropout', 'Softmax',
  'Squeeze', 'Unsqueeze', 'Pad',
] as const;
const SUPPORTED = new Set<string>(GRADIENT_OPS);

export const TARGET_INPUT = 'xaiws_target';
export const TARGET_OUTPUT = 'xaiws_target_used';
export const gradientOutputName = (tensor: string) => `xaiws_gradient:${tensor}`;

export interface GradientOptions {
  /** Tensors to differentiate the class score with respect to. */
  targets: string[];
  /** The [N, classes] output whose entry is the score; the model's first output by default. */
  output?: string;
  /** Guided backpropagation: every ReLU also drops negative incoming gradients. */
  guidedRelu?: boolean;
  /** Element types from the probe; integer tensors are kept off the gradient path. */
  types?: Map<string, string>;
}

export interface GradientModel {
  model: OnnxModel;
  /** int64 [N]: the class to differentiate per image; -1 means the predicted class. */
  targetInput: string;
  scoreOutput: string;
  targetOutput: string;
  gradients: Record<string, string>;
}

/** Ops whose outputs carry no gradient (shapes, indices, comparisons). */
const NON_DIFFERENTIABLE = new Set(['Shape', 'Size', 'ArgMax', 'ArgMin', 'NonZero', 'Equal', 'Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual', 'Not', 'And', 'Or', 'IsNaN', 'IsInf', 'ConstantOfShape', 'TopK']);

/**
 * Ops on the way from `targets` to `output`, and the float tensors between them. Integer tensors (a
 * Shape feeding a Reshape, as `x.view(x.size(0), -1)` exports) carry no gradient and stay off the path;
 * `types` (from the probe) marks them where known.
 */
export function pathBetween(model: OnnxModel, targets: string[], output: string, types?: Map<string, string>) {
  const forward = new Set(targets);
  for (const node of model.nodes) {
    if (NON_DIFFERENTIABLE.has(node.opType ?? '') || !node.input?.some((i) => forward.has(i))) continue;
    for (const o of node.output ?? []) if (!types || types.get(o) === undefined || types.get(o) === 'float32') forward.add(o);
  }
  const backward = new Set([output]);
  for (const node of [...model.nodes].reverse()) if (node.output?.some((o) => backward.has(o))) for (const i of node.input ?? []) backward.add(i);
  const tensors = new Set([...forward].filter((t) => backward.has(t)));
  const nodes = model.nodes.filter((n) => n.output?.some((o) => tensors.has(o)) && n.input?.some((i) => tensors.has(i)));
  return { tensors, nodes };
}

export function unsupportedOps(model: OnnxModel, targets: string[], output: string, types?: Map<string, string>): NodeProto[] {
  return pathBetween(model, targets, output, types).nodes.filter((n) => !SUPPORTED.has(n.opType ?? ''));
}

export function buildGradientModel(source: OnnxModel, shapes: ShapeTable, options: GradientOptions): GradientModel {
  const model = source.clone();
  if (model.opset < 11) {
    throw new ApiError('model_unsupported_op', `The model uses ONNX opset ${model.opset}; gradient graphs need opset 11 or newer (re-export the model with opset_version >= 11)`);
  }
  const output = options.output ?? model.outputNames()[0]!;
  const outputShape = shapes.get(output);
  if (!outputShape || outputShape.length !== 2) {
    throw new ApiError('model_shape_mismatch', `The score output "${output}" must have shape [N, classes]; it has [${outputShape?.join(', ') ?? 'unknown'}]`);
  }
  for (const target of options.targets) {
    if (!shapes.has(target)) throw new ApiError('layer_not_found', `The model has no tensor named "${target}"`);
  }
  const { tensors, nodes } = pathBetween(model, options.targets, output, options.types);
  for (const target of options.targets) {
    if (!tensors.has(target)) throw new ApiError('layer_not_found', `Tensor "${target}" does not lead to the output "${output}", so the class score has no gradient there`);
  }
  const unsupported = nodes.find((n) => !SUPPORTED.has(n.opType ?? ''));
  if (unsupported) {
    throw new ApiError(
      'model_unsupported_op',
      `Op ${unsupported.opType} (node "${unsupported.name || unsupported.output?.[0]}") lies between the layer and the output, and the gradient builder does not support it; gradient-free methods (Score-CAM, Ablation-CAM, Eigen-CAM) still work`,
    );
  }

  const builder = new Builder(model, shapes, options.guidedRelu ?? false);
  const seed = builder.seed(output, outputShape[1]!);
  builder.addGradient(output, seed);
  for (const node of [...nodes].reverse()) builder.backward(node, tensors);

  const gradients: Record<string, string> = {};
  for (const target of options.targets) {
    gradients[target] = gradientOutputName(target);
    builder.node('Identity', [builder.gradientOf(target)], [], gradients[target]);
  }
  model.graph.node.push(...builder.nodes);
  for (const tensor of builder.initializers) model.addInitializer(tensor);
  model.addInput(TARGET_INPUT, DataType.INT64, ['N']);
  model.setOutputs([output, TARGET_OUTPUT, ...options.targets, ...Object.values(gradients)]);
  return { model, targetInput: TARGET_INPUT, scoreOutput: output, targetOutput: TARGET_OUTPUT, gradients };
}

class Builder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private readonly pending = new Map<string, string[]>();
  private counter = 0;
  private readonly opset: number;

  constructor(
    private readonly model: OnnxModel,
    private readonly shapes: ShapeTable,
    private readonly guided: boolean,
  ) {
    this.opset = model.opset;
  }

  private fresh(base: string): string {
    return `xaiws_grad/${base}_${this.counter++}`;
  }

  node(opType: string, inputs: string[], attribute: AttributeProto[] = [], output?: string): string {
    const name = output ?? this.fresh(opType);
    this.nodes.push({ opType, input: inputs, output: [name], attribute, name: `${name}/node` });
    return name;
  }

  floats(values: number[], dims: number[] = values.length === 1 ? [] : [values.length]): string {
    const name = this.fresh('const');
    this.initializers.push(floatTensor(name, dims, values));
    return name;
  }

  ints(values: number[], dims: number[] = [values.length]): string {
    const name = this.fresh('const');
    this.initializers.push(int64Tensor(name, dims, values));
    return name;
  }

  shapeOf(tensor: string): number[] {
    const init = this.model.initializer(tensor) ?? this.model.constant(tensor);
    if (init) return tensorDims(init);
    const shape = this.shapes.get(tensor);
    if (!shape) throw new ApiError('model_invalid', `No shape is known for tensor "${tensor}"`);
    return shape;
  }

  addGradient(tensor: string, gradient: string): void {
    const list = this.pending.get(tensor) ?? [];
    list.push(gradient);
    this.pending.set(tensor, list);
  }

  gradientOf(tensor: string): string {
    const list = this.pending.get(tensor);
    if (!list || list.length === 0) throw new ApiError('internal', `no gradient reached "${tensor}"`);
    if (list.length === 1) return list[0]!;
    const sum = this.node('Sum', list);
    this.pending.set(tensor, [sum]);
    return sum;
  }

  /** One-hot seed on the requested class, or on the predicted one where the request says -1. */
  seed(output: string, classes: number): string {
    const predicted = this.node('ArgMax', [output], [intAttr('axis', 1), intAttr('keepdims', 0)]);
    const useDefault = this.node('Less', [TARGET_INPUT, this.ints([0], [])]);
    const chosen = this.node('Where', [useDefault, predicted, TARGET_INPUT], [], TARGET_OUTPUT);
    return this.node('OneHot', [chosen, this.ints([classes], []), this.floats([0, 1])], [intAttr('axis', -1)]);
  }

  reduceSum(x: string, axes: number[], keepdims: boolean): string {
    if (this.opset >= 13) return this.node('ReduceSum', [x, this.ints(axes)], [intAttr('keepdims', keepdims ? 1 : 0)]);
    return this.node('ReduceSum', [x], [intsAttr('axes', axes), intAttr('keepdims', keepdims ? 1 : 0)]);
  }

  /** Sums a broadcast gradient back to the shape of the input it came from. */
  unbroadcast(gradient: string, inputShape: number[], outputShape: number[]): string {
    const offset = outputShape.length - inputShape.length;
    const axes: number[] = [];
    outputShape.forEach((dim, axis) => {
      const j = axis - offset;
      if (j < 0 || (inputShape[j] === 1 && dim !== 1)) axes.push(axis);
    });
    if (axes.length === 0) return gradient;
    const summed = this.reduceSum(gradient, axes, true);
    return offset > 0 ? this.node('Reshape', [summed, this.ints(inputShape)]) : summed;
  }

  private zero(): string {
    return this.floats([0]);
  }

  backward(node: NodeProto, onPath: Set<string>): void {
    const inputs = node.input ?? [];
    const y = node.output![0]!;
    if (!this.pending.has(y)) return; // an output that only feeds tensors off the path
    const g = this.gradientOf(y);
    const wants = (index: number) => inputs[index] !== undefined && inputs[index] !== '' && onPath.has(inputs[index]!);
    const emit = (index: number, gradient: string) => this.addGradient(inputs[index]!, gradient);
    const x = inputs[0]!;
    const label = `${node.opType} node "${node.name || y}"`;

    switch (node.opType) {
      case 'Identity':
      case 'Dropout':
        if (wants(0)) emit(0, g);
        return;
      case 'Flatten':
      case 'Reshape':
      case 'Squeeze':
      case 'Unsqueeze':
        if (wants(0)) emit(0, this.node('Reshape', [g, this.node('Shape', [x])]));
        return;
      case 'Pad': {
        if (attrString(node, 'mode', 'constant') !== 'constant') throw new ApiError('model_unsupported_op', `${label}: only constant padding is supported`);
        const padsTensor = inputs[1] ? this.model.constant(inputs[1]) : undefined;
        const pads = padsTensor ? Array.from(tensorValues(padsTensor)) : attrInts(node, 'pads');
        if (!pads) throw new ApiError('model_unsupported_op', `${label}: its pads must be constant`);
        if (pads.some((p) => p < 0)) throw new ApiError('model_unsupported_op', `${label}: negative (cropping) pads are not supported`);
        const shape = this.shapeOf(x);
        const axes = shape.map((_, axis) => axis).filter((axis) => pads[axis]! > 0 || pads[axis + shape.length]! > 0);
        if (wants(0)) {
          emit(0, axes.length === 0 ? g : this.node('Slice', [g, this.ints(axes.map((a) => pads[a]!)), this.ints(axes.map((a) => pads[a]! + shape[a]!)), this.ints(axes)]));
        }
        return;
      }
      case 'Transpose': {
        const rank = this.shapeOf(x).length;
        const perm = attrInts(node, 'perm') ?? [...Array(rank).keys()].reverse();
        const inverse = new Array<number>(rank);
        perm.forEach((p, i) => (inverse[p] = i));
        if (wants(0)) emit(0, this.node('Transpose', [g], [intsAttr('perm', inverse)]));
        return;
      }
      case 'Concat': {
        const rank = this.shapeOf(y).length;
        let axis = attrInt(node, 'axis', 0);
        if (axis < 0) axis += rank;
        let offset = 0;
        inputs.forEach((input, index) => {
          const size = this.shapeOf(input)[axis]!;
          if (wants(index)) emit(index, this.node('Slice', [g, this.ints([offset]), this.ints([offset + size]), this.ints([axis])]));
          offset += size;
        });
        return;
      }
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div':
        return this.elementwise(node, g, wants, emit);
      case 'Relu': {
        let pass = this.node('Greater', [x, this.zero()]);
        if (this.guided) pass = this.node('And', [pass, this.node('Greater', [g, this.zero()])]);
        if (wants(0)) emit(0, this.node('Where', [pass, g, this.zero()]));
        return;
      }
      case 'LeakyRelu': {
        const alpha = attrFloat(node, 'alpha', 0.01);
        if (wants(0)) emit(0, this.node('Where', [this.node('Greater', [x, this.zero()]), g, this.node('Mul', [g, this.floats([alpha])])]));
        return;
      }
      case 'Clip': {
        let pass: string | undefined;
        if (inputs[1]) pass = this.node('Greater', [x, inputs[1]]);
        if (inputs[2]) {
          const below = this.node('Less', [x, inputs[2]]);
          pass = pass ? this.node('And', [pass, below]) : below;
        }
        if (wants(0)) emit(0, pass ? this.node('Where', [pass, g, this.zero()]) : g);
        return;
      }
      case 'Sigmoid':
        if (wants(0)) emit(0, this.node('Mul', [g, this.node('Mul', [y, this.node('Sub', [this.floats([1]), y])])]));
        return;
      case 'Tanh':
        if (wants(0)) emit(0, this.node('Mul', [g, this.node('Sub', [this.floats([1]), this.node('Mul', [y, y])])]));
        return;
      case 'HardSigmoid': {
        const alpha = attrFloat(node, 'alpha', 0.2);
        const beta = attrFloat(node, 'beta', 0.5);
        const z = this.node('Add', [this.node('Mul', [x, this.floats([alpha])]), this.floats([beta])]);
        const pass = this.node('And', [this.node('Greater', [z, this.zero()]), this.node('Less', [z, this.floats([1])])]);
        if (wants(0)) emit(0, this.node('Where', [pass, this.node('Mul', [g, this.floats([alpha])]), this.zero()]));
        return;
      }
      case 'HardSwish': {
        const slope = this.node('Add', [this.node('Div', [x, this.floats([3])]), this.floats([0.5])]);
        const inner = this.node('Where', [this.node('Greater', [x, this.floats([3])]), g, this.node('Mul', [g, slope])]);
        if (wants(0)) emit(0, this.node('Where', [this.node('Less', [x, this.floats([-3])]), this.zero(), inner]));
        return;
      }
      case 'Softmax': {
        const rank = this.shapeOf(y).length;
        let axis = attrInt(node, 'axis', this.opset >= 13 ? -1 : 1);
        if (axis < 0) axis += rank;
        const axes = this.opset >= 13 ? [axis] : [...Array(rank - axis).keys()].map((i) => i + axis);
        const dot = this.reduceSum(this.node('Mul', [g, y]), axes, true);
        if (wants(0)) emit(0, this.node('Mul', [y, this.node('Sub', [g, dot])]));
        return;
      }
      case 'BatchNormalization': {
        if ([1, 2, 3, 4].some(wants)) throw new ApiError('model_unsupported_op', `${label}: gradients through batch-norm parameters are not supported`);
        const [scale, , , variance] = [1, 2, 3, 4].map((i) => this.model.constant(inputs[i]!));
        if (!scale || !variance) throw new ApiError('model_unsupported_op', `${label}: its scale and variance must be constants`);
        const epsilon = attrFloat(node, 'epsilon', 1e-5);
        const s = tensorValues(scale);
        const v = tensorValues(variance);
        const factor = Array.from(s, (value, c) => value / Math.sqrt(v[c]! + epsilon));
        const rank = this.shapeOf(x).length;
        if (wants(0)) emit(0, this.node('Mul', [g, this.floats(factor, [factor.length, ...new Array(Math.max(0, rank - 2)).fill(1)])]));
        return;
      }
      case 'GlobalAveragePool': {
        const spatial = this.shapeOf(x).slice(2).reduce((a, b) => a * b, 1);
        if (wants(0)) emit(0, this.node('Mul', [this.node('Expand', [g, this.node('Shape', [x])]), this.floats([1 / spatial])]));
        return;
      }
      case 'MaxPool':
      case 'AveragePool':
        if (wants(0)) emit(0, this.pooling(node, g, label));
        return;
      case 'Conv':
        if (wants(1) || wants(2)) throw new ApiError('model_unsupported_op', `${label}: gradients through convolution weights are not supported`);
        if (wants(0)) emit(0, this.convBackward(node, g));
        return;
      case 'ConvTranspose':
        if (wants(1) || wants(2)) throw new ApiError('model_unsupported_op', `${label}: gradients through convolution weights are not supported`);
        if (wants(0)) emit(0, this.convTransposeBackward(node, g));
        return;
      case 'Gemm':
        return this.gemm(node, g, wants, emit);
      case 'MatMul':
        return this.matmul(node, g, wants, emit, label);
      default:
        throw new ApiError('model_unsupported_op', `${label} is not supported by the gradient builder`);
    }
  }

  private elementwise(node: NodeProto, g: string, wants: (i: number) => boolean, emit: (i: number, g: string) => void): void {
    const [a, b] = node.input as [string, string];
    const y = node.output![0]!;
    const shapeY = this.shapeOf(y);
    const toA = (gradient: string) => emit(0, this.unbroadcast(gradient, this.shapeOf(a), shapeY));
    const toB = (gradient: string) => emit(1, this.unbroadcast(gradient, this.shapeOf(b), shapeY));
    switch (node.opType) {
      case 'Add':
        if (wants(0)) toA(g);
        if (wants(1)) toB(g);
        return;
      case 'Sub':
        if (wants(0)) toA(g);
        if (wants(1)) toB(this.node('Neg', [g]));
        return;
      case 'Mul':
        if (wants(0)) toA(this.node('Mul', [g, b]));
        if (wants(1)) toB(this.node('Mul', [g, a]));
        return;
      case 'Div':
        if (wants(0)) toA(this.node('Div', [g, b]));
        if (wants(1)) toB(this.node('Neg', [this.node('Div', [this.node('Mul', [g, y]), b])]));
        return;
    }
  }

  private gemm(node: NodeProto, g: string, wants: (i: number) => boolean, emit: (i: number, g: string) => void): void {
    const [a, b, c] = node.input as [string, string, string | undefined];
    const alpha = attrFloat(node, 'alpha', 1);
    const beta = attrFloat(node, 'beta', 1);
    const transA = attrInt(node, 'transA', 0);
    const transB = attrInt(node, 'transB', 0);
    const gemm = (x: string, w: string, ta: number, tb: number) =>
      this.node('Gemm', [x, w], [floatAttr('alpha', alpha), intAttr('transA', ta), intAttr('transB', tb)]);
    if (wants(0)) emit(0, transA ? gemm(b, g, transB, 1) : gemm(g, b, 0, transB ? 0 : 1));
    if (wants(1)) emit(1, transB ? gemm(g, a, 1, transA) : gemm(a, g, transA ? 0 : 1, 0));
    if (c && wants(2)) {
      const scaled = beta === 1 ? g : this.node('Mul', [g, this.floats([beta])]);
      emit(2, this.unbroadcast(scaled, this.shapeOf(c), this.shapeOf(node.output![0]!)));
    }
  }

  private matmul(node: NodeProto, g: string, wants: (i: number) => boolean, emit: (i: number, g: string) => void, label: string): void {
    const [a, b] = node.input as [string, string];
    const shapeA = this.shapeOf(a);
    const shapeB = this.shapeOf(b);
    const shapeY = this.shapeOf(node.output![0]!);
    if (shapeA.length < 2 || shapeB.length < 2) throw new ApiError('model_unsupported_op', `${label}: MatMul with a 1-D operand is not supported`);
    const swapLast = (t: string, rank: number) => {
      const perm = [...Array(rank).keys()];
      [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1]!, perm[rank - 2]!];
      return this.node('Transpose', [t], [intsAttr('perm', perm)]);
    };
    const batchShape = (shape: number[], last: number[]) => [...shapeY.slice(0, -2), ...last].slice(-Math.max(shape.length, shapeY.length));
    if (wants(0)) emit(0, this.unbroadcast(this.node('MatMul', [g, swapLast(b, shapeB.length)]), shapeA, batchShape(shapeA, shapeA.slice(-2))));
    if (wants(1)) emit(1, this.unbroadcast(this.node('MatMul', [swapLast(a, shapeA.length), g]), shapeB, batchShape(shapeB, shapeB.slice(-2))));
  }

  private convGeometry(node: NodeProto, spatialIn: number[], spatialOut: number[], kernel: number[], transposed: boolean) {
    const n = kernel.length;
    const strides = attrInts(node, 'strides') ?? new Array(n).fill(1);
    const dilations = attrInts(node, 'dilations') ?? new Array(n).fill(1);
    const autoPad = attrString(node, 'auto_pad', 'NOTSET');
    const outputPadding = attrInts(node, 'output_padding') ?? new Array(n).fill(0);
    let pads = attrInts(node, 'pads') ?? new Array(2 * n).fill(0);
    if (autoPad !== 'NOTSET' || (transposed && attrInts(node, 'output_shape'))) {
      pads = new Array(2 * n).fill(0);
      if (autoPad !== 'VALID') {
        for (let i = 0; i < n; i++) {
          const extent = (kernel[i]! - 1) * dilations[i]! + 1;
          const total = transposed
            ? strides[i]! * (spatialIn[i]! - 1) + outputPadding[i]! + extent - spatialOut[i]!
            : Math.max(0, (spatialOut[i]! - 1) * strides[i]! + extent - spatialIn[i]!);
          const half = Math.floor(total / 2);
          pads[i] = autoPad === 'SAME_LOWER' ? total - half : half;
          pads[i + n] = total - pads[i]!;
        }
      }
    }
    return { strides, dilations, pads, group: attrInt(node, 'group', 1) };
  }

  private convBackward(node: NodeProto, g: string): string {
    const [x, w] = node.input as [string, string];
    const kernel = this.shapeOf(w).slice(2);
    const inSpatial = this.shapeOf(x).slice(2);
    const outSpatial = this.shapeOf(node.output![0]!).slice(2);
    const { strides, dilations, pads, group } = this.convGeometry(node, inSpatial, outSpatial, kernel, false);
    const n = kernel.length;
    const outputPadding = kernel.map((k, i) => inSpatial[i]! - ((outSpatial[i]! - 1) * strides[i]! + (k - 1) * dilations[i]! + 1 - pads[i]! - pads[i + n]!));
    return this.node('ConvTranspose', [g, w], [
      intsAttr('kernel_shape', kernel), intsAttr('strides', strides), intsAttr('dilations', dilations),
      intsAttr('pads', pads), intsAttr('output_padding', outputPadding), intAttr('group', group),
    ]);
  }

  private convTransposeBackward(node: NodeProto, g: string): string {
    const [x, w] = node.input as [string, string];
    const kernel = this.shapeOf(w).slice(2);
    const inSpatial = this.shapeOf(x).slice(2);
    const outSpatial = this.shapeOf(node.output![0]!).slice(2);
    const { strides, dilations, pads, group } = this.convGeometry(node, inSpatial, outSpatial, kernel, true);
    return this.node('Conv', [g, w], [
      intsAttr('kernel_shape', kernel), intsAttr('strides', strides), intsAttr('dilations', dilations), intsAttr('pads', pads), intAttr('group', group),
    ]);
  }

  /**
   * Pooling backward as a strided scatter: the gradient of each window position is laid out as its own
   * channel and a grouped ConvTranspose with one-hot (max) or all-ones (average) kernels adds them back
   * onto the padded input grid, which is then cropped to the input.
   */
  private pooling(node: NodeProto, g: string, label: string): string {
    const x = node.input![0]!;
    const y = node.output![0]!;
    const shapeX = this.shapeOf(x);
    const shapeY = this.shapeOf(y);
    if (shapeX.length !== 4) throw new ApiError('model_unsupported_op', `${label}: only 2-D pooling is supported`);
    if ((node.output ?? []).length > 1 && node.output![1]) throw new ApiError('model_unsupported_op', `${label}: pooling with an Indices output is not supported`);
    const kernel = attrInts(node, 'kernel_shape')!;
    const channels = shapeX[1]!;
    const inSpatial = shapeX.slice(2);
    const outSpatial = shapeY.slice(2);
    const { strides, dilations, pads } = this.convGeometry(node, inSpatial, outSpatial, kernel, false);
    const extent = kernel.map((k, i) => (outSpatial[i]! - 1) * strides[i]! + (k - 1) * dilations[i]! + 1);
    const windowSize = kernel[0]! * kernel[1]!;
    const conv = (input: string, weights: number[], inputChannels: number) =>
      this.node('ConvTranspose', [input, this.floats(weights, [inputChannels, 1, kernel[0]!, kernel[1]!])], [
        intsAttr('kernel_shape', kernel), intsAttr('strides', strides), intsAttr('dilations', dilations), intAttr('group', channels),
      ]);

    let scattered: string;
    if (node.opType === 'MaxPool') {
      const endPad = [0, 1].map((i) => pads[i + 2]! + Math.max(0, extent[i]! - (inSpatial[i]! + pads[i]! + pads[i + 2]!)));
      const padded = this.node('Pad', [x, this.ints([0, 0, pads[0]!, pads[1]!, 0, 0, endPad[0]!, endPad[1]!]), this.floats([-Infinity])]);
      let taken: string | undefined;
      const parts: string[] = [];
      for (let i = 0; i < kernel[0]!; i++) {
        for (let j = 0; j < kernel[1]!; j++) {
          const starts = [i * dilations[0]!, j * dilations[1]!];
          const window = this.node('Slice', [padded, this.ints(starts), this.ints([starts[0]! + (outSpatial[0]! - 1) * strides[0]! + 1, starts[1]! + (outSpatial[1]! - 1) * strides[1]! + 1]), this.ints([2, 3]), this.ints(strides)]);
          const equal = this.node('Equal', [window, y]);
          const first = taken ? this.node('And', [equal, this.node('Not', [taken])]) : equal;
          taken = taken ? this.node('Or', [taken, equal]) : equal;
          parts.push(this.node('Where', [first, g, this.zero()]));
        }
      }
      // [N, K*C, h, w] window-major -> [N, C*K, h, w] channel-major, as the grouped ConvTranspose wants.
      const stacked = this.node('Concat', parts, [intAttr('axis', 1)]);
      const split = this.node('Reshape', [stacked, this.ints([-1, windowSize, channels, outSpatial[0]!, outSpatial[1]!])]);
      const swapped = this.node('Transpose', [split], [intsAttr('perm', [0, 2, 1, 3, 4])]);
      const grouped = this.node('Reshape', [swapped, this.ints([-1, channels * windowSize, outSpatial[0]!, outSpatial[1]!])]);
      const weights = new Array<number>(channels * windowSize * windowSize).fill(0);
      for (let c = 0; c < channels; c++) for (let t = 0; t < windowSize; t++) weights[(c * windowSize + t) * windowSize + t] = 1;
      scattered = conv(grouped, weights, channels * windowSize);
    } else {
      const includePad = attrInt(node, 'count_include_pad', 0) === 1;
      const counts = [0, 1].map((axis) =>
        Array.from({ length: outSpatial[axis]! }, (_, o) => {
          let count = 0;
          for (let k = 0; k < kernel[axis]!; k++) {
            const position = o * strides[axis]! - pads[axis]! + k * dilations[axis]!;
            const low = includePad ? -pads[axis]! : 0;
            const high = includePad ? inSpatial[axis]! + pads[axis + 2]! : inSpatial[axis]!;
            if (position >= low && position < high) count++;
          }
          return count;
        }),
      );
      const divisor = counts[0]!.flatMap((rows) => counts[1]!.map((cols) => rows * cols));
      const averaged = this.node('Div', [g, this.floats(divisor, [1, 1, outSpatial[0]!, outSpatial[1]!])]);
      scattered = conv(averaged, new Array<number>(channels * windowSize).fill(1), channels);
    }
    // The scatter covers padded rows [0, extent); the input occupies [pad, pad + size).
    const shortfall = [0, 1].map((i) => Math.max(0, pads[i]! + inSpatial[i]! - extent[i]!));
    const covered = shortfall.some((s) => s > 0) ? this.node('Pad', [scattered, this.ints([0, 0, 0, 0, 0, 0, shortfall[0]!, shortfall[1]!]), this.zero()]) : scattered;
    return this.node('Slice', [covered, this.ints([pads[0]!, pads[1]!]), this.ints([pads[0]! + inSpatial[0]!, pads[1]! + inSpatial[1]!]), this.ints([2, 3])]);
  }
}
