/**
 * Gradient rules of matrix products (Gemm with its transposes and scales, batched MatMul with
 * broadcasting) and Einsum: the gradient of an operand is the einsum of the output gradient with the
 * other operands into that operand's subscripts, which needs every one of its letters to appear in the
 * output or in another operand, once (no ellipsis, no diagonal).
 */
import { ApiError } from '../../../src-shared/errors.ts';
import { attrFloat, attrInt, attrString, floatAttr, intAttr, intsAttr, stringAttr } from '../onnx/model.ts';
import { LATEST_OPSET, type GradientRule } from './context.ts';

export const LINEAR_RULES: GradientRule[] = [
  {
    op: 'Gemm',
    opsets: [7, LATEST_OPSET],
    backward(b, s) {
      const [a, w, c] = s.inputs as [string, string, string | undefined];
      const alpha = attrFloat(s.node, 'alpha', 1);
      const beta = attrFloat(s.node, 'beta', 1);
      const transA = attrInt(s.node, 'transA', 0);
      const transB = attrInt(s.node, 'transB', 0);
      const gemm = (x: string, y: string, ta: number, tb: number) =>
        b.node('Gemm', [x, y], [floatAttr('alpha', alpha), intAttr('transA', ta), intAttr('transB', tb)]);
      if (s.wants(0)) s.emit(0, transA ? gemm(w, s.g, transB, 1) : gemm(s.g, w, 0, transB ? 0 : 1));
      if (s.wants(1)) s.emit(1, transB ? gemm(s.g, a, 1, transA) : gemm(a, s.g, transA ? 0 : 1, 0));
      if (c && s.wants(2)) {
        const scaled = beta === 1 ? s.g : b.node('Mul', [s.g, b.floats([beta])]);
        s.emit(2, b.unbroadcast(scaled, b.shapeOf(c), b.shapeOf(s.y)));
      }
    },
  },
  {
    op: 'MatMul',
    opsets: [1, LATEST_OPSET],
    backward(b, s) {
      const [a, w] = s.inputs as [string, string];
      const shapeA = b.shapeOf(a);
      const shapeB = b.shapeOf(w);
      const shapeY = b.shapeOf(s.y);
      if (shapeA.length < 2 || shapeB.length < 2)
        throw new ApiError('model_unsupported_op', `${s.label}: MatMul with a 1-D operand is not supported`);
      const swapLast = (t: string, rank: number) => {
        const perm = [...Array(rank).keys()];
        [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1]!, perm[rank - 2]!];
        return b.node('Transpose', [t], [intsAttr('perm', perm)]);
      };
      const batchShape = (shape: number[], last: number[]) =>
        [...shapeY.slice(0, -2), ...last].slice(-Math.max(shape.length, shapeY.length));
      if (s.wants(0))
        s.emit(
          0,
          b.unbroadcast(
            b.node('MatMul', [s.g, swapLast(w, shapeB.length)]),
            shapeA,
            batchShape(shapeA, shapeA.slice(-2)),
          ),
        );
      if (s.wants(1))
        s.emit(
          1,
          b.unbroadcast(
            b.node('MatMul', [swapLast(a, shapeA.length), s.g]),
            shapeB,
            batchShape(shapeB, shapeB.slice(-2)),
          ),
        );
    },
  },
];

LINEAR_RULES.push({
  op: 'Einsum',
  opsets: [12, LATEST_OPSET],
  backward(b, s) {
    const equation = attrString(s.node, 'equation', '').replace(/\s+/g, '');
    const [left, output] = equation.split('->');
    const operands = left?.split(',') ?? [];
    const refuse = (why: string) => {
      throw new ApiError('model_unsupported_op', `${s.label}: equation "${equation}" ${why}`);
    };
    if (output === undefined || equation.includes('.')) refuse('needs an explicit output and no ellipsis');
    operands.forEach((subscripts, index) => {
      if (!s.wants(index)) return;
      if (new Set(subscripts).size !== subscripts.length) refuse('takes a diagonal');
      const others = operands.filter((_, i) => i !== index);
      const available = new Set([...output!, ...others.join('')]);
      if ([...subscripts].some((letter) => !available.has(letter))) refuse(`sums a letter of operand ${index} alone`);
      const inputs = [s.g, ...s.inputs.filter((_, i) => i !== index)];
      s.emit(
        index,
        b.node('Einsum', inputs, [stringAttr('equation', `${[output, ...others].join(',')}->${subscripts}`)]),
      );
    });
  },
});
