/**
 * Gradient rules of normalisation layers. BatchNormalization in inference mode has constant
 * statistics; LayerNormalization, InstanceNormalization and GroupNormalization compute theirs from
 * the input, so their gradient is the full one: with x^ the normalised input over the axes A, s the
 * scale and r = 1 / sqrt(var + eps), dx = r (g s - mean_A(g s) - x^ mean_A(g s x^)). Scales and
 * biases must be constants (they are the model's weights).
 */
import { ApiError } from '../../../src-shared/errors.ts';
import { attrFloat, attrInt, tensorValues } from '../onnx/model.ts';
import { LATEST_OPSET, type GradientContext, type GradientRule, type Step } from './context.ts';

export const NORMALISATION_RULES: GradientRule[] = [
  {
    op: 'BatchNormalization',
    opsets: [7, LATEST_OPSET],
    backward(b, s) {
      if ([1, 2, 3, 4].some((i) => s.wants(i)))
        throw new ApiError(
          'model_unsupported_op',
          `${s.label}: gradients through batch-norm parameters are not supported`,
        );
      const [scale, , , variance] = [1, 2, 3, 4].map((i) => b.model.constant(s.inputs[i]!));
      if (!scale || !variance)
        throw new ApiError('model_unsupported_op', `${s.label}: its scale and variance must be constants`);
      const epsilon = attrFloat(s.node, 'epsilon', 1e-5);
      const v = tensorValues(variance);
      const factor = Array.from(tensorValues(scale), (value, c) => value / Math.sqrt(v[c]! + epsilon));
      const rank = b.shapeOf(s.x).length;
      if (s.wants(0))
        s.emit(0, b.node('Mul', [s.g, b.floats(factor, [factor.length, ...new Array(Math.max(0, rank - 2)).fill(1)])]));
    },
  },
];

/** dx of a normalisation over `axes` of x, given the scaled output gradient gs (= g * scale). */
function normalisedGradient(b: GradientContext, x: string, gs: string, axes: number[], epsilon: number): string {
  const centred = b.node('Sub', [x, b.reduceMean(x, axes, true)]);
  const variance = b.reduceMean(b.node('Mul', [centred, centred]), axes, true);
  const r = b.node('Reciprocal', [b.node('Sqrt', [b.node('Add', [variance, b.floats([epsilon])])])]);
  const xHat = b.node('Mul', [centred, r]);
  const inner = b.node('Sub', [
    b.node('Sub', [gs, b.reduceMean(gs, axes, true)]),
    b.node('Mul', [xHat, b.reduceMean(b.node('Mul', [gs, xHat]), axes, true)]),
  ]);
  return b.node('Mul', [r, inner]);
}

function constantWeights(s: Step, from: number): void {
  if (s.inputs.slice(from).some((_, i) => s.wants(from + i)))
    throw new ApiError('model_unsupported_op', `${s.label}: gradients through its scale or bias are not supported`);
  if (!s.g) throw new ApiError('model_unsupported_op', `${s.label}: only its first output may lead to the score`);
}

NORMALISATION_RULES.push(
  {
    op: 'LayerNormalization',
    opsets: [17, LATEST_OPSET],
    backward(b, s) {
      constantWeights(s, 1);
      const rank = b.shapeOf(s.x).length;
      let axis = attrInt(s.node, 'axis', -1);
      if (axis < 0) axis += rank;
      const axes = [...Array(rank - axis).keys()].map((i) => i + axis);
      const gs = b.node('Mul', [s.g, s.inputs[1]!]);
      if (s.wants(0)) s.emit(0, normalisedGradient(b, s.x, gs, axes, attrFloat(s.node, 'epsilon', 1e-5)));
    },
  },
  {
    op: 'InstanceNormalization',
    opsets: [6, LATEST_OPSET],
    backward(b, s) {
      constantWeights(s, 1);
      const rank = b.shapeOf(s.x).length;
      const channelShape = [b.shapeOf(s.inputs[1]!)[0]!, ...new Array(rank - 2).fill(1)];
      const gs = b.node('Mul', [s.g, b.node('Reshape', [s.inputs[1]!, b.ints(channelShape)])]);
      const axes = [...Array(rank - 2).keys()].map((i) => i + 2);
      if (s.wants(0)) s.emit(0, normalisedGradient(b, s.x, gs, axes, attrFloat(s.node, 'epsilon', 1e-5)));
    },
  },
  {
    // Opset 18: scale and bias per group; opset 21: per channel.
    op: 'GroupNormalization',
    opsets: [18, LATEST_OPSET],
    backward(b, s) {
      constantWeights(s, 1);
      const shape = b.shapeOf(s.x);
      const groups = attrInt(s.node, 'num_groups', 1);
      const scaleLength = b.shapeOf(s.inputs[1]!)[0]!;
      const grouped = (t: string) => b.node('Reshape', [t, b.ints([0, groups, -1])]);
      let gs: string;
      if (scaleLength === groups && (b.opset < 21 || groups === shape[1])) {
        gs = b.node('Mul', [grouped(s.g), b.node('Reshape', [s.inputs[1]!, b.ints([groups, 1])])]);
      } else {
        const channelShape = [shape[1]!, ...new Array(shape.length - 2).fill(1)];
        gs = grouped(b.node('Mul', [s.g, b.node('Reshape', [s.inputs[1]!, b.ints(channelShape)])]));
      }
      const dx = normalisedGradient(b, grouped(s.x), gs, [2], attrFloat(s.node, 'epsilon', 1e-5));
      if (s.wants(0)) s.emit(0, b.node('Reshape', [dx, b.node('Shape', [s.x])]));
    },
  },
);
