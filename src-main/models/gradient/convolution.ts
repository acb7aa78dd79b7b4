/**
 * Gradient rules of convolutions with respect to their input: a Conv's is the ConvTranspose of the
 * output gradient with the same weights and geometry, and the reverse. Gradients through the weights
 * are not needed by any explanation and are refused.
 */
import { ApiError } from '../../../src-shared/errors.ts';
import { attrInt, attrInts, attrString, intAttr, intsAttr, type NodeProto } from '../onnx/model.ts';
import { LATEST_OPSET, type GradientContext, type GradientRule, type Step } from './context.ts';

/** Strides, dilations, explicit pads (auto_pad resolved from the measured shapes) and groups of a conv or pooling node. */
export function convGeometry(
  node: NodeProto,
  spatialIn: number[],
  spatialOut: number[],
  kernel: number[],
  transposed: boolean,
) {
  const n = kernel.length;
  const strides = attrInts(node, 'strides') ?? new Array(n).fill(1);
  const dilations = attrInts(node, 'dilations') ?? new Array(n).fill(1);
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  const outputPadding = attrInts(node, 'output_padding') ?? new Array(n).fill(0);
  let pads = attrInts(node, 'pads') ?? new Array(2 * n).fill(0);
  if (autoPad !== 'NOTSET' || (transposed && attrInts(node, 'output_shape'))) {
    pads = new Array(2 * n).fill(0);
    if (autoPad !== 'VALID') {
      for (let i = 0; i < n; i++) {
        const extent = (kernel[i]! - 1) * dilations[i]! + 1;
        const total = transposed
          ? strides[i]! * (spatialIn[i]! - 1) + outputPadding[i]! + extent - spatialOut[i]!
          : Math.max(0, (spatialOut[i]! - 1) * strides[i]! + extent - spatialIn[i]!);
        const half = Math.floor(total / 2);
        pads[i] = autoPad === 'SAME_LOWER' ? total - half : half;
        pads[i + n] = total - pads[i]!;
      }
    }
  }
  return { strides, dilations, pads, group: attrInt(node, 'group', 1) };
}

function shapes(b: GradientContext, s: Step) {
  const w = s.inputs[1]!;
  return { w, kernel: b.shapeOf(w).slice(2), inSpatial: b.shapeOf(s.x).slice(2), outSpatial: b.shapeOf(s.y).slice(2) };
}

function refuseWeights(s: Step): void {
  if (s.wants(1) || s.wants(2))
    throw new ApiError('model_unsupported_op', `${s.label}: gradients through convolution weights are not supported`);
}

export const CONVOLUTION_RULES: GradientRule[] = [
  {
    op: 'Conv',
    opsets: [1, LATEST_OPSET],
    backward(b, s) {
      refuseWeights(s);
      if (!s.wants(0)) return;
      const { w, kernel, inSpatial, outSpatial } = shapes(b, s);
      const { strides, dilations, pads, group } = convGeometry(s.node, inSpatial, outSpatial, kernel, false);
      const n = kernel.length;
      const outputPadding = kernel.map(
        (k, i) =>
          inSpatial[i]! - ((outSpatial[i]! - 1) * strides[i]! + (k - 1) * dilations[i]! + 1 - pads[i]! - pads[i + n]!),
      );
      s.emit(
        0,
        b.node(
          'ConvTranspose',
          [s.g, w],
          [
            intsAttr('kernel_shape', kernel),
            intsAttr('strides', strides),
            intsAttr('dilations', dilations),
            intsAttr('pads', pads),
            intsAttr('output_padding', outputPadding),
            intAttr('group', group),
          ],
        ),
      );
    },
  },
  {
    op: 'ConvTranspose',
    opsets: [1, LATEST_OPSET],
    backward(b, s) {
      refuseWeights(s);
      if (!s.wants(0)) return;
      const { w, kernel, inSpatial, outSpatial } = shapes(b, s);
      const { strides, dilations, pads, group } = convGeometry(s.node, inSpatial, outSpatial, kernel, true);
      s.emit(
        0,
        b.node(
          'Conv',
          [s.g, w],
          [
            intsAttr('kernel_shape', kernel),
            intsAttr('strides', strides),
            intsAttr('dilations', dilations),
            intsAttr('pads', pads),
            intAttr('group', group),
          ],
        ),
      );
    },
  },
];
