/** Gradient rules of normalisation layers in inference mode (statistics are constants). */
import { ApiError } from '../../../src-shared/errors.ts';
import { attrFloat, tensorValues } from '../onnx/model.ts';
import { LATEST_OPSET, type GradientRule } from './context.ts';

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
