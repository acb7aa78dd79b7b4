/** Gradient rules of the broadcasting arithmetic ops (binary and variadic), Where and Expand: each operand's gradient is summed back to its own shape. */
import { intAttr } from '../onnx/model.ts';
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

/** Variadic Max or Min: each input that equals the result shares its gradient with the others that do (as torch.maximum). */
const extreme = (op: string): GradientRule => ({
  op,
  opsets: [8, LATEST_OPSET],
  backward(b, s) {
    const shapeY = b.shapeOf(s.y);
    const hits = s.inputs.map((input) => b.node('Cast', [b.node('Equal', [input, s.y])], [intAttr('to', 1)]));
    const count = hits.length === 1 ? hits[0]! : b.node('Sum', hits);
    const share = b.node('Div', [s.g, count]);
    s.inputs.forEach((input, index) => {
      if (s.wants(index)) s.emit(index, b.unbroadcast(b.node('Mul', [share, hits[index]!]), b.shapeOf(input), shapeY));
    });
  },
});

ELEMENTWISE_RULES.push(
  extreme('Max'),
  extreme('Min'),
  {
    op: 'Sum',
    opsets: [8, LATEST_OPSET],
    backward(b, s) {
      const shapeY = b.shapeOf(s.y);
      s.inputs.forEach((input, index) => s.wants(index) && s.emit(index, b.unbroadcast(s.g, b.shapeOf(input), shapeY)));
    },
  },
  {
    op: 'Mean',
    opsets: [8, LATEST_OPSET],
    backward(b, s) {
      const shapeY = b.shapeOf(s.y);
      const share = b.node('Div', [s.g, b.floats([s.inputs.length])]);
      s.inputs.forEach(
        (input, index) => s.wants(index) && s.emit(index, b.unbroadcast(share, b.shapeOf(input), shapeY)),
      );
    },
  },
  {
    // The condition carries no gradient; X gets it where the condition holds, Y elsewhere.
    op: 'Where',
    opsets: [9, LATEST_OPSET],
    backward(b, s) {
      const [condition, x, y] = s.inputs as [string, string, string];
      const shapeY = b.shapeOf(s.y);
      if (s.wants(1)) s.emit(1, b.unbroadcast(b.node('Where', [condition, s.g, b.zero()]), b.shapeOf(x), shapeY));
      if (s.wants(2)) s.emit(2, b.unbroadcast(b.node('Where', [condition, b.zero(), s.g]), b.shapeOf(y), shapeY));
    },
  },
  {
    op: 'Expand',
    opsets: [8, LATEST_OPSET],
    backward: (b, s) => s.wants(0) && s.emit(0, b.unbroadcast(s.g, b.shapeOf(s.x), b.shapeOf(s.y))),
  },
);
