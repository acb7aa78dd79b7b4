/**
 * Gradient rules of reductions. Axes come from the attribute (before the opset that made them an
 * input: 13 for ReduceSum, 18 for the others) or from a constant input; no axes means all of them
 * (unless noop_with_empty_axes). The gradient is unsqueezed back where keepdims dropped the axes, then:
 * ReduceSum spreads it, ReduceMean spreads it divided by the count, ReduceMax/ReduceMin share it
 * between the elements equal to the result (as torch.amax), ReduceL2 scales it by x / |x| (0 at 0).
 */
import { ApiError } from '../../../src-shared/errors.ts';
import { attrInt, attrInts, intAttr } from '../onnx/model.ts';
import { LATEST_OPSET, type GradientContext, type GradientRule, type Step } from './context.ts';

/** The reduced axes (non-negative, sorted), or null for none (a no-op). */
function reducedAxes(b: GradientContext, s: Step, inputFrom: number): number[] | null {
  const rank = b.shapeOf(s.x).length;
  let axes: number[] | undefined;
  if (b.opset >= inputFrom) {
    if (s.inputs[1]) {
      axes = b.constantInts(s.inputs[1]);
      if (!axes) throw new ApiError('model_unsupported_op', `${s.label}: its axes must be constant`);
    }
  } else axes = attrInts(s.node, 'axes');
  if (!axes || axes.length === 0) {
    if (b.opset >= inputFrom && attrInt(s.node, 'noop_with_empty_axes', 0) === 1) return null;
    return [...Array(rank).keys()];
  }
  return [...new Set(axes.map((a) => (a < 0 ? a + rank : a)))].sort((p, q) => p - q);
}

type Local = (b: GradientContext, s: Step, g: string, y: string, axes: number[]) => string;

const reduction = (op: string, inputFrom: number, local: Local): GradientRule => ({
  op,
  opsets: [11, LATEST_OPSET],
  backward(b, s) {
    if (!s.wants(0)) return;
    const axes = reducedAxes(b, s, inputFrom);
    if (axes === null) return s.emit(0, s.g);
    const kept = attrInt(s.node, 'keepdims', 1) === 1;
    const g = kept ? s.g : b.unsqueeze(s.g, axes);
    const y = kept ? s.y : b.unsqueeze(s.y, axes);
    s.emit(0, local(b, s, g, y, axes));
  },
});

const spread = (b: GradientContext, s: Step, g: string) => b.node('Expand', [g, b.node('Shape', [s.x])]);

function shared(b: GradientContext, s: Step, g: string, y: string, axes: number[]): string {
  const hits = b.node('Cast', [b.node('Equal', [s.x, y])], [intAttr('to', 1)]);
  return b.node('Mul', [b.node('Div', [g, b.reduceSum(hits, axes, true)]), hits]);
}

export const REDUCE_RULES: GradientRule[] = [
  reduction('ReduceSum', 13, (b, s, g) => spread(b, s, g)),
  reduction('ReduceMean', 18, (b, s, g, _y, axes) => {
    const shape = b.shapeOf(s.x);
    const count = axes.reduce((n, axis) => n * shape[axis]!, 1);
    return spread(b, s, b.node('Div', [g, b.floats([count])]));
  }),
  reduction('ReduceMax', 18, shared),
  reduction('ReduceMin', 18, shared),
  reduction('ReduceL2', 18, (b, s, g, y) => {
    const safe = b.node('Where', [b.node('Equal', [y, b.zero()]), b.floats([1]), y]);
    const ratio = b.node('Where', [b.node('Equal', [y, b.zero()]), b.zero(), b.node('Div', [s.x, safe])]);
    return b.node('Mul', [g, ratio]);
  }),
];
