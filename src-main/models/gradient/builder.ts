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
  floatTensor,
  int64Tensor,
  intAttr,
  intsAttr,
  tensorAttr,
  tensorDims,
  tensorValues,
  type AttributeProto,
  type NodeProto,
  type TensorProto,
} from '../onnx/model.ts';
import type { ShapeTable } from '../onnx/probe.ts';
import type { GradientContext, Step } from './context.ts';
import { hasRule, ruleFor } from './table.ts';

export { GRADIENT_OPS } from './table.ts';

export const TARGET_INPUT = 'xaiws_target';
/** The class each image's gradient was taken for (the requested one, or the predicted one for -1). */
export const TARGET_OUTPUT = 'xaiws_target_used';
/** float [N, classes]: d L / d scores, for graphs built with `seedInput` (a target other than one score). */
export const SEED_INPUT = 'xaiws_seed';
export const gradientOutputName = (tensor: string) => `xaiws_gradient:${tensor}`;

export interface GradientOptions {
  /** Tensors to differentiate the class score with respect to. */
  targets: string[];
  /** The [N, classes] output whose entry is the score; the model's first output by default. */
  output?: string;
  /**
   * Differentiate L with d L / d scores given as the input SEED_INPUT instead of one class score; the
   * target input still names the class reported as the one explained.
   */
  seedInput?: boolean;
  /** Guided backpropagation: every ReLU also drops negative incoming gradients. */
  guidedRelu?: boolean;
  /** Element types from the probe; integer tensors are kept off the gradient path. */
  types?: Map<string, string>;
  /** Batch axes and static integer values from the probe (probe.ts). */
  batchAxes?: Map<string, number>;
  values?: Map<string, number[]>;
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
const NON_DIFFERENTIABLE = new Set([
  'Shape',
  'Size',
  'ArgMax',
  'ArgMin',
  'NonZero',
  'Equal',
  'Greater',
  'Less',
  'GreaterOrEqual',
  'LessOrEqual',
  'Not',
  'And',
  'Or',
  'IsNaN',
  'IsInf',
  'ConstantOfShape',
  'TopK',
]);

/** Element types that carry a gradient. */
const FLOAT_TYPES = new Set(['float32', 'float64', 'float16']);

/**
 * Ops on the way from `targets` to `output`, and the float tensors between them. Integer tensors (a
 * Shape feeding a Reshape, as `x.view(x.size(0), -1)` exports) carry no gradient and stay off the path;
 * `types` (from the probe) marks them where known.
 */
export function pathBetween(model: OnnxModel, targets: string[], output: string, types?: Map<string, string>) {
  const forward = new Set(targets);
  for (const node of model.nodes) {
    if (NON_DIFFERENTIABLE.has(node.opType ?? '') || !node.input?.some((i) => forward.has(i))) continue;
    for (const o of node.output ?? [])
      if (!types || types.get(o) === undefined || FLOAT_TYPES.has(types.get(o)!)) forward.add(o);
  }
  const backward = new Set([output]);
  for (const node of [...model.nodes].reverse())
    if (node.output?.some((o) => backward.has(o))) for (const i of node.input ?? []) backward.add(i);
  const tensors = new Set([...forward].filter((t) => backward.has(t)));
  const nodes = model.nodes.filter(
    (n) => n.output?.some((o) => tensors.has(o)) && n.input?.some((i) => tensors.has(i)),
  );
  return { tensors, nodes };
}

export function unsupportedOps(
  model: OnnxModel,
  targets: string[],
  output: string,
  types?: Map<string, string>,
): NodeProto[] {
  return pathBetween(model, targets, output, types).nodes.filter((n) => !hasRule(n.opType ?? ''));
}

export function buildGradientModel(source: OnnxModel, shapes: ShapeTable, options: GradientOptions): GradientModel {
  const model = source.extended(); // the builder only adds nodes, weights, inputs and outputs
  if (model.opset < 11) {
    throw new ApiError(
      'model_unsupported_op',
      `The model uses ONNX opset ${model.opset}; gradient graphs need opset 11 or newer (re-export the model with opset_version >= 11)`,
    );
  }
  const output = options.output ?? model.outputNames()[0]!;
  const outputShape = shapes.get(output);
  if (!outputShape || outputShape.length !== 2) {
    throw new ApiError(
      'model_shape_mismatch',
      `The score output "${output}" must have shape [N, classes]; it has [${outputShape?.join(', ') ?? 'unknown'}]`,
    );
  }
  for (const target of options.targets) {
    if (!shapes.has(target)) throw new ApiError('layer_not_found', `The model has no tensor named "${target}"`);
  }
  const { tensors, nodes } = pathBetween(model, options.targets, output, options.types);
  for (const target of options.targets) {
    if (!tensors.has(target))
      throw new ApiError(
        'layer_not_found',
        `Tensor "${target}" does not lead to the output "${output}", so the class score has no gradient there`,
      );
  }
  const unsupported = nodes.find((n) => !hasRule(n.opType ?? ''));
  if (unsupported) {
    throw new ApiError(
      'model_unsupported_op',
      `Op ${unsupported.opType} (node "${unsupported.name || unsupported.output?.[0]}") lies between the layer and the output, and the gradient builder does not support it; gradient-free methods (Score-CAM, Ablation-CAM, Eigen-CAM) still work`,
    );
  }

  const builder = new Builder(model, shapes, options.guidedRelu ?? false, options);
  const seed = builder.seed(output, outputShape[1]!, options.seedInput ?? false);
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
  if (options.seedInput) model.addInput(SEED_INPUT, DataType.FLOAT, ['N', outputShape[1]!]);
  model.setOutputs([output, TARGET_OUTPUT, ...options.targets, ...Object.values(gradients)]);
  return { model, targetInput: TARGET_INPUT, scoreOutput: output, targetOutput: TARGET_OUTPUT, gradients };
}

class Builder implements GradientContext {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private readonly pending = new Map<string, string[]>();
  private counter = 0;
  readonly opset: number;

  constructor(
    readonly model: OnnxModel,
    private readonly shapes: ShapeTable,
    readonly guided: boolean,
    private readonly facts: Pick<GradientOptions, 'types' | 'batchAxes' | 'values'> = {},
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

  /** One-hot seed on the requested class, or on the predicted one where the request says -1 (or the seed input). */
  seed(output: string, classes: number, seedInput: boolean): string {
    const predicted = this.node('ArgMax', [output], [intAttr('axis', 1), intAttr('keepdims', 0)]);
    const useDefault = this.node('Less', [TARGET_INPUT, this.ints([0], [])]);
    const chosen = this.node('Where', [useDefault, predicted, TARGET_INPUT], [], TARGET_OUTPUT);
    if (seedInput) return SEED_INPUT;
    return this.node('OneHot', [chosen, this.ints([classes], []), this.floats([0, 1])], [intAttr('axis', -1)]);
  }

  reduceMean(x: string, axes: number[], keepdims: boolean): string {
    if (this.opset >= 18) return this.node('ReduceMean', [x, this.ints(axes)], [intAttr('keepdims', keepdims ? 1 : 0)]);
    return this.node('ReduceMean', [x], [intsAttr('axes', axes), intAttr('keepdims', keepdims ? 1 : 0)]);
  }

  unsqueeze(x: string, axes: number[]): string {
    if (axes.length === 0) return x;
    if (this.opset >= 13) return this.node('Unsqueeze', [x, this.ints(axes)]);
    return this.node('Unsqueeze', [x], [intsAttr('axes', axes)]);
  }

  constantInts(tensor: string): number[] | undefined {
    const constant = this.model.initializer(tensor) ?? this.model.constant(tensor);
    return constant ? Array.from(tensorValues(constant)) : this.facts.values?.get(tensor);
  }

  typeOf(tensor: string): string | undefined {
    return this.facts.types?.get(tensor);
  }

  batchAxis(tensor: string): number | null {
    if (!this.facts.batchAxes) return 0;
    return this.facts.batchAxes.get(tensor) ?? null;
  }

  zerosLike(tensor: string): string {
    return this.node(
      'ConstantOfShape',
      [this.node('Shape', [tensor])],
      [tensorAttr('value', floatTensor('zero', [1], [0]))],
    );
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

  zero(): string {
    return this.floats([0]);
  }

  /** Adds the gradients of `node`'s inputs on the path, by the op's rule in the table. */
  backward(node: NodeProto, onPath: Set<string>): void {
    const inputs = node.input ?? [];
    const outputs = node.output ?? [];
    const y = outputs[0]!;
    if (!outputs.some((o) => this.pending.has(o))) return; // outputs that only feed tensors off the path
    const label = `${node.opType} node "${node.name || y}"`;
    const rule = ruleFor(node, this.opset, label);
    const step: Step = {
      node,
      inputs,
      x: inputs[0]!,
      y,
      g: this.pending.has(y) ? this.gradientOf(y) : '',
      outputGradient: (index) =>
        outputs[index] && this.pending.has(outputs[index]!) ? this.gradientOf(outputs[index]!) : null,
      wants: (index) => inputs[index] !== undefined && inputs[index] !== '' && onPath.has(inputs[index]!),
      emit: (index, gradient) => this.addGradient(inputs[index]!, gradient),
      label,
    };
    rule.backward(this, step);
  }
}
