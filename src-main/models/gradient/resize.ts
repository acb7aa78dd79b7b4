/**
 * The gradient rule of Resize on [N, C, H, W] maps (Upsample, its form before opset 10, is older than the
 * builder's opset floor of 11, which refuses such a model by name). Every mode of ONNX's Resize is linear in
 * its input and separable by axis, y = R_h x R_w^T per plane, so the input gradient is R_h^T g R_w. The
 * matrices are not re-derived here from the spec's coordinate transforms, rounding modes and cubic
 * kernels: each is made by the same op, with the node's own attributes, resizing an identity basis along
 * one axis ([H, 1, H, 1] to [H, 1, H', 1] gives R_h^T), so whatever onnxruntime computes forward is
 * what the gradient transposes. The basis resizes depend on constants only and are folded once.
 */
import { ApiError } from '../../../src-shared/errors.ts';
import { attrInts, attrString, intsAttr, tensorValues } from '../onnx/model.ts';
import type { GradientContext, GradientRule, Step } from './context.ts';
import { LATEST_OPSET } from './context.ts';

/** The float values of a constant input, or undefined when absent or computed at run time. */
function constantFloats(b: GradientContext, name: string | undefined): number[] | undefined {
  if (!name) return undefined;
  const tensor = b.model.constant(name);
  return tensor ? Array.from(tensorValues(tensor)) : undefined;
}

/** The node's per-axis scales when it was given scales (the transform uses them, not out/in), else undefined. */
function givenScales(b: GradientContext, s: Step): number[] | undefined {
  const name = s.inputs[2];
  if (!name) return undefined;
  const values = constantFloats(b, name);
  if (values === undefined && !s.inputs[3])
    throw new ApiError('model_unsupported_op', `${s.label}: its scales are computed at run time, not constants`);
  return values && values.length ? values : undefined;
}

/** The [in, out] matrix R^T of one axis: the node's resize applied to an identity basis along that axis. */
function axisMatrix(b: GradientContext, s: Step, axis: 2 | 3, length: number, resized: number, scale?: number): string {
  const identity = new Array<number>(length * length).fill(0);
  for (let k = 0; k < length; k++) identity[k * length + k] = 1;
  const dims = axis === 2 ? [length, 1, length, 1] : [length, 1, 1, length];
  const basis = b.floats(identity, dims);
  const out = axis === 2 ? [length, 1, resized, 1] : [length, 1, 1, resized];
  const scales = axis === 2 ? [1, 1, scale ?? 0, 1] : [1, 1, 1, scale ?? 0];
  const attributes = s.node.attribute ?? [];
  const empty = () => (b.opset < 13 ? b.floats([]) : ''); // roi and scales became optional at opset 13
  const inputs = scale !== undefined ? [basis, empty(), b.floats(scales, [4])] : [basis, empty(), empty(), b.ints(out)];
  return b.node('Reshape', [b.node('Resize', inputs, attributes), b.ints([length, resized])]);
}

function resizeBackward(b: GradientContext, s: Step): void {
  if (!s.wants(0)) return;
  const shapeX = b.shapeOf(s.x);
  const shapeY = b.shapeOf(s.y);
  if (shapeX.length !== 4 || shapeX[1] !== shapeY[1])
    throw new ApiError(
      'model_unsupported_op',
      `${s.label}: only resizing the two spatial axes of an [N, C, H, W] map is supported (input [${shapeX.join(', ')}], output [${shapeY.join(', ')}])`,
    );
  const mode = attrString(s.node, 'coordinate_transformation_mode', 'half_pixel');
  if (mode === 'tf_crop_and_resize')
    throw new ApiError('model_unsupported_op', `${s.label}: tf_crop_and_resize is not supported`);
  if (attrInts(s.node, 'axes'))
    throw new ApiError('model_unsupported_op', `${s.label}: a Resize with an axes attribute is not supported`);
  const policy = attrString(s.node, 'keep_aspect_ratio_policy', 'stretch');
  if (policy !== 'stretch')
    throw new ApiError('model_unsupported_op', `${s.label}: keep_aspect_ratio_policy ${policy} is not supported`);
  const scales = givenScales(b, s);
  if (scales && (scales[0] !== 1 || scales[1] !== 1))
    throw new ApiError('model_unsupported_op', `${s.label}: resizing the batch or channel axis is not supported`);
  let g = s.g;
  const [, , h, w] = shapeX as [number, number, number, number];
  const [, , h2, w2] = shapeY as [number, number, number, number];
  if (h !== h2 || (scales && scales[2] !== 1)) g = b.node('MatMul', [axisMatrix(b, s, 2, h, h2, scales?.[2]), g]);
  if (w !== w2 || (scales && scales[3] !== 1)) {
    const rT = axisMatrix(b, s, 3, w, w2, scales?.[3]);
    g = b.node('MatMul', [g, b.node('Transpose', [rT], [intsAttr('perm', [1, 0])])]);
  }
  s.emit(0, g);
}

export const RESIZE_RULES: GradientRule[] = [{ op: 'Resize', opsets: [11, LATEST_OPSET], backward: resizeBackward }];
