/**
 * Gradient rules of activations, following PyTorch's autograd: ReLU passes where x > 0, Clip passes
 * strictly inside its bounds (as hardtanh and ReLU6 do), and guided backpropagation also drops
 * negative incoming gradients at every ReLU.
 */
import { attrFloat, attrInt } from '../onnx/model.ts';
import { LATEST_OPSET, type GradientRule } from './context.ts';

export const ACTIVATION_RULES: GradientRule[] = [
  {
    op: 'Relu',
    opsets: [6, LATEST_OPSET],
    backward(b, s) {
      let pass = b.node('Greater', [s.x, b.zero()]);
      if (b.guided) pass = b.node('And', [pass, b.node('Greater', [s.g, b.zero()])]);
      if (s.wants(0)) s.emit(0, b.node('Where', [pass, s.g, b.zero()]));
    },
  },
  {
    op: 'LeakyRelu',
    opsets: [6, LATEST_OPSET],
    backward(b, s) {
      const alpha = attrFloat(s.node, 'alpha', 0.01);
      if (s.wants(0))
        s.emit(0, b.node('Where', [b.node('Greater', [s.x, b.zero()]), s.g, b.node('Mul', [s.g, b.floats([alpha])])]));
    },
  },
  {
    // From opset 11 the bounds are inputs; before, attributes (not supported: re-export with opset >= 11).
    op: 'Clip',
    opsets: [11, LATEST_OPSET],
    backward(b, s) {
      let pass: string | undefined;
      if (s.inputs[1]) pass = b.node('Greater', [s.x, s.inputs[1]]);
      if (s.inputs[2]) {
        const below = b.node('Less', [s.x, s.inputs[2]]);
        pass = pass ? b.node('And', [pass, below]) : below;
      }
      if (s.wants(0)) s.emit(0, pass ? b.node('Where', [pass, s.g, b.zero()]) : s.g);
    },
  },
  {
    op: 'Sigmoid',
    opsets: [6, LATEST_OPSET],
    backward: (b, s) =>
      s.wants(0) && s.emit(0, b.node('Mul', [s.g, b.node('Mul', [s.y, b.node('Sub', [b.floats([1]), s.y])])])),
  },
  {
    op: 'Tanh',
    opsets: [6, LATEST_OPSET],
    backward: (b, s) =>
      s.wants(0) && s.emit(0, b.node('Mul', [s.g, b.node('Sub', [b.floats([1]), b.node('Mul', [s.y, s.y])])])),
  },
  {
    op: 'HardSigmoid',
    opsets: [6, LATEST_OPSET],
    backward(b, s) {
      const alpha = attrFloat(s.node, 'alpha', 0.2);
      const beta = attrFloat(s.node, 'beta', 0.5);
      const z = b.node('Add', [b.node('Mul', [s.x, b.floats([alpha])]), b.floats([beta])]);
      const pass = b.node('And', [b.node('Greater', [z, b.zero()]), b.node('Less', [z, b.floats([1])])]);
      if (s.wants(0)) s.emit(0, b.node('Where', [pass, b.node('Mul', [s.g, b.floats([alpha])]), b.zero()]));
    },
  },
  {
    op: 'HardSwish',
    opsets: [14, LATEST_OPSET],
    backward(b, s) {
      const slope = b.node('Add', [b.node('Div', [s.x, b.floats([3])]), b.floats([0.5])]);
      const inner = b.node('Where', [b.node('Greater', [s.x, b.floats([3])]), s.g, b.node('Mul', [s.g, slope])]);
      if (s.wants(0)) s.emit(0, b.node('Where', [b.node('Less', [s.x, b.floats([-3])]), b.zero(), inner]));
    },
  },
  {
    // Opset 13 changed Softmax from "flatten from axis" to one axis.
    op: 'Softmax',
    opsets: [1, LATEST_OPSET],
    backward(b, s) {
      const rank = b.shapeOf(s.y).length;
      let axis = attrInt(s.node, 'axis', b.opset >= 13 ? -1 : 1);
      if (axis < 0) axis += rank;
      const axes = b.opset >= 13 ? [axis] : [...Array(rank - axis).keys()].map((i) => i + axis);
      const dot = b.reduceSum(b.node('Mul', [s.g, s.y]), axes, true);
      if (s.wants(0)) s.emit(0, b.node('Mul', [s.y, b.node('Sub', [s.g, dot])]));
    },
  },
];
