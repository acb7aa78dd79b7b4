/** Gradient rules of ops that move values without changing them: identities, reshapes, padding, transposes, concatenation. */
import { ApiError } from '../../../src-shared/errors.ts';
import { attrInt, attrInts, attrString, intsAttr } from '../onnx/model.ts';
import { LATEST_OPSET, type GradientRule } from './context.ts';

const passThrough = (op: string): GradientRule => ({
  op,
  opsets: [1, LATEST_OPSET],
  backward: (_b, s) => s.wants(0) && s.emit(0, s.g),
});

/** Back to the input's shape, whatever the op did to it (Flatten, Reshape, Squeeze, Unsqueeze). */
const reshapeBack = (op: string): GradientRule => ({
  op,
  opsets: [1, LATEST_OPSET],
  backward: (b, s) => s.wants(0) && s.emit(0, b.node('Reshape', [s.g, b.node('Shape', [s.x])])),
});

export const SHAPE_RULES: GradientRule[] = [
  passThrough('Identity'),
  passThrough('Dropout'),
  reshapeBack('Flatten'),
  reshapeBack('Reshape'),
  reshapeBack('Squeeze'),
  reshapeBack('Unsqueeze'),
  {
    op: 'Pad',
    opsets: [2, LATEST_OPSET],
    backward(b, s) {
      if (attrString(s.node, 'mode', 'constant') !== 'constant')
        throw new ApiError('model_unsupported_op', `${s.label}: only constant padding is supported`);
      const pads = s.inputs[1] ? b.constantInts(s.inputs[1]) : attrInts(s.node, 'pads');
      if (!pads) throw new ApiError('model_unsupported_op', `${s.label}: its pads must be constant`);
      if (pads.some((p) => p < 0))
        throw new ApiError('model_unsupported_op', `${s.label}: negative (cropping) pads are not supported`);
      const shape = b.shapeOf(s.x);
      const axes = shape.map((_, axis) => axis).filter((axis) => pads[axis]! > 0 || pads[axis + shape.length]! > 0);
      if (!s.wants(0)) return;
      s.emit(
        0,
        axes.length === 0
          ? s.g
          : b.node('Slice', [
              s.g,
              b.ints(axes.map((a) => pads[a]!)),
              b.ints(axes.map((a) => pads[a]! + shape[a]!)),
              b.ints(axes),
            ]),
      );
    },
  },
  {
    op: 'Transpose',
    opsets: [1, LATEST_OPSET],
    backward(b, s) {
      const rank = b.shapeOf(s.x).length;
      const perm = attrInts(s.node, 'perm') ?? [...Array(rank).keys()].reverse();
      const inverse = new Array<number>(rank);
      perm.forEach((p, i) => (inverse[p] = i));
      if (s.wants(0)) s.emit(0, b.node('Transpose', [s.g], [intsAttr('perm', inverse)]));
    },
  },
  {
    op: 'Concat',
    opsets: [4, LATEST_OPSET],
    backward(b, s) {
      const rank = b.shapeOf(s.y).length;
      let axis = attrInt(s.node, 'axis', 0);
      if (axis < 0) axis += rank;
      let offset = 0;
      s.inputs.forEach((input, index) => {
        const size = b.shapeOf(input)[axis]!;
        if (s.wants(index))
          s.emit(index, b.node('Slice', [s.g, b.ints([offset]), b.ints([offset + size]), b.ints([axis])]));
        offset += size;
      });
    },
  },
];
