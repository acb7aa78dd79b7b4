/**
 * Gradient rules of element-wise functions of one input (exp, log, erf, GELU and its kin), of Pow and
 * Cast between float types. Each is the derivative PyTorch's autograd uses: Abs has slope 0 at 0,
 * GELU's exact and tanh forms follow torch.nn.functional.gelu, Mish and Softplus (beta 1) theirs.
 */
import { ApiError } from '../../../src-shared/errors.ts';
import { attrInt, attrString, intAttr } from '../onnx/model.ts';
import { LATEST_OPSET, type GradientContext, type GradientRule, type Step } from './context.ts';

const FLOAT_CODES = new Set([1, 10, 11, 16]); // float, float16, double, bfloat16
const TYPE_CODES: Record<string, number> = { float32: 1, float16: 10, float64: 11 };

/** A rule whose input gradient is `g * derivative(x, y)`. */
const unary = (op: string, low: number, derivative: (b: GradientContext, s: Step) => string): GradientRule => ({
  op,
  opsets: [low, LATEST_OPSET],
  backward: (b, s) => s.wants(0) && s.emit(0, b.node('Mul', [s.g, derivative(b, s)])),
});

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
const SQRT_TWO_OVER_PI = Math.sqrt(2 / Math.PI);
const ONE_OVER_SQRT_TWO_PI = 1 / Math.sqrt(2 * Math.PI);

function geluSlope(b: GradientContext, x: string, approximate: string): string {
  if (approximate === 'tanh') {
    // y = x/2 (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3)
    const x2 = b.node('Mul', [x, x]);
    const u = b.node('Mul', [
      b.floats([SQRT_TWO_OVER_PI]),
      b.node('Add', [x, b.node('Mul', [b.floats([0.044715]), b.node('Mul', [x2, x])])]),
    ]);
    const t = b.node('Tanh', [u]);
    const du = b.node('Mul', [
      b.floats([SQRT_TWO_OVER_PI]),
      b.node('Add', [b.floats([1]), b.node('Mul', [b.floats([3 * 0.044715]), x2])]),
    ]);
    const left = b.node('Mul', [b.floats([0.5]), b.node('Add', [b.floats([1]), t])]);
    const right = b.node('Mul', [
      b.node('Mul', [b.floats([0.5]), x]),
      b.node('Mul', [b.node('Sub', [b.floats([1]), b.node('Mul', [t, t])]), du]),
    ]);
    return b.node('Add', [left, right]);
  }
  // Phi(x) + x phi(x)
  const cdf = b.node('Mul', [
    b.floats([0.5]),
    b.node('Add', [b.floats([1]), b.node('Erf', [b.node('Mul', [x, b.floats([Math.SQRT1_2])])])]),
  ]);
  const pdf = b.node('Mul', [
    b.floats([ONE_OVER_SQRT_TWO_PI]),
    b.node('Exp', [b.node('Mul', [b.floats([-0.5]), b.node('Mul', [x, x])])]),
  ]);
  return b.node('Add', [cdf, b.node('Mul', [x, pdf])]);
}

export const MATH_RULES: GradientRule[] = [
  unary('Neg', 6, (b) => b.floats([-1])),
  unary('Exp', 6, (_b, s) => s.y),
  unary('Log', 6, (b, s) => b.node('Reciprocal', [s.x])),
  unary('Abs', 6, (b, s) => b.node('Sign', [s.x])),
  unary('Sqrt', 6, (b, s) => b.node('Div', [b.floats([0.5]), s.y])),
  unary('Reciprocal', 6, (b, s) => b.node('Neg', [b.node('Mul', [s.y, s.y])])),
  unary('Erf', 9, (b, s) =>
    b.node('Mul', [b.floats([TWO_OVER_SQRT_PI]), b.node('Exp', [b.node('Neg', [b.node('Mul', [s.x, s.x])])])]),
  ),
  unary('Softplus', 1, (b, s) => b.node('Sigmoid', [s.x])),
  unary('Mish', 18, (b, s) => {
    const t = b.node('Tanh', [b.node('Softplus', [s.x])]);
    const sech2 = b.node('Sub', [b.floats([1]), b.node('Mul', [t, t])]);
    return b.node('Add', [t, b.node('Mul', [b.node('Mul', [s.x, sech2]), b.node('Sigmoid', [s.x])])]);
  }),
  unary('Gelu', 20, (b, s) => geluSlope(b, s.x, attrString(s.node, 'approximate', 'none'))),
  {
    // y = a ^ c: dy/da = c a^(c-1), dy/dc = y ln(a); each summed back to its operand's shape.
    op: 'Pow',
    opsets: [7, LATEST_OPSET],
    backward(b, s) {
      const [a, c] = s.inputs as [string, string];
      const shapeY = b.shapeOf(s.y);
      if (s.wants(0)) {
        const slope = b.node('Mul', [c, b.node('Pow', [a, b.node('Sub', [c, b.floats([1])])])]);
        s.emit(0, b.unbroadcast(b.node('Mul', [s.g, slope]), b.shapeOf(a), shapeY));
      }
      if (s.wants(1))
        s.emit(1, b.unbroadcast(b.node('Mul', [s.g, b.node('Mul', [s.y, b.node('Log', [a])])]), b.shapeOf(c), shapeY));
    },
  },
  {
    // Only casts between float types lie on a gradient path (a cast to an integer type ends it).
    op: 'Cast',
    opsets: [6, LATEST_OPSET],
    backward(b, s) {
      const to = attrInt(s.node, 'to', 1);
      if (!FLOAT_CODES.has(to))
        throw new ApiError('model_unsupported_op', `${s.label}: a cast to a non-float type carries no gradient`);
      const from = TYPE_CODES[b.typeOf(s.x) ?? 'float32'] ?? 1;
      if (s.wants(0)) s.emit(0, from === to ? s.g : b.node('Cast', [s.g], [intAttr('to', from)]));
    },
  },
];
