/** Gradient rules of the broadcasting arithmetic ops: each operand's gradient is summed back to its own shape. */
import { LATEST_OPSET, type GradientContext, type GradientRule, type Step } from './context.ts';

type Partials = (b: GradientContext, s: Step, a: string, c: string) => [string | null, string | null];

const binary = (op: string, partials: Partials): GradientRule => ({
  op,
  opsets: [7, LATEST_OPSET],
  backward(b, s) {
    const [a, c] = s.inputs as [string, string];
    const shapeY = b.shapeOf(s.y);
    const [ga, gc] = partials(b, s, a, c);
    if (ga && s.wants(0)) s.emit(0, b.unbroadcast(ga, b.shapeOf(a), shapeY));
    if (gc && s.wants(1)) s.emit(1, b.unbroadcast(gc, b.shapeOf(c), shapeY));
  },
});

// Partials are built only for the operands that want one: each closure runs when asked.
const lazy = (s: Step, index: number, make: () => string) => (s.wants(index) ? make() : null);

export const ELEMENTWISE_RULES: GradientRule[] = [
  binary('Add', (_b, s) => [s.g, s.g]),
  binary('Sub', (b, s) => [s.g, lazy(s, 1, () => b.node('Neg', [s.g]))]),
  binary('Mul', (b, s, a, c) => [lazy(s, 0, () => b.node('Mul', [s.g, c])), lazy(s, 1, () => b.node('Mul', [s.g, a]))]),
  binary('Div', (b, s, _a, c) => [
    lazy(s, 0, () => b.node('Div', [s.g, c])),
    lazy(s, 1, () => b.node('Neg', [b.node('Div', [b.node('Mul', [s.g, s.y]), c])])),
  ]),
];
