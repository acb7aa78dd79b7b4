/**
 * Gradient rules of pooling. Global average pooling spreads the gradient evenly; windowed pooling is
 * differentiated as a strided scatter (below). Max pooling sends each window's gradient to its first
 * maximum, as PyTorch does.
 */
import { ApiError } from '../../../src-shared/errors.ts';
import { attrInt, attrInts, intAttr, intsAttr, type NodeProto } from '../onnx/model.ts';
import { LATEST_OPSET, type GradientContext, type GradientRule } from './context.ts';
import { convGeometry } from './convolution.ts';

/**
 * Pooling backward as a strided scatter: the gradient of each window position is laid out as its own
 * channel and a grouped ConvTranspose with one-hot (max) or all-ones (average) kernels adds them back
 * onto the padded input grid, which is then cropped to the input.
 */
function poolingBackward(b: GradientContext, node: NodeProto, g: string, label: string): string {
  const x = node.input![0]!;
  const y = node.output![0]!;
  const shapeX = b.shapeOf(x);
  const shapeY = b.shapeOf(y);
  if (shapeX.length !== 4) throw new ApiError('model_unsupported_op', `${label}: only 2-D pooling is supported`);
  if ((node.output ?? []).length > 1 && node.output![1])
    throw new ApiError('model_unsupported_op', `${label}: pooling with an Indices output is not supported`);
  const kernel = attrInts(node, 'kernel_shape')!;
  const channels = shapeX[1]!;
  const inSpatial = shapeX.slice(2);
  const outSpatial = shapeY.slice(2);
  const { strides, dilations, pads } = convGeometry(node, inSpatial, outSpatial, kernel, false);
  const extent = kernel.map((k, i) => (outSpatial[i]! - 1) * strides[i]! + (k - 1) * dilations[i]! + 1);
  const windowSize = kernel[0]! * kernel[1]!;
  const conv = (input: string, weights: number[], inputChannels: number) =>
    b.node(
      'ConvTranspose',
      [input, b.floats(weights, [inputChannels, 1, kernel[0]!, kernel[1]!])],
      [
        intsAttr('kernel_shape', kernel),
        intsAttr('strides', strides),
        intsAttr('dilations', dilations),
        intAttr('group', channels),
      ],
    );

  let scattered: string;
  if (node.opType === 'MaxPool') {
    const endPad = [0, 1].map(
      (i) => pads[i + 2]! + Math.max(0, extent[i]! - (inSpatial[i]! + pads[i]! + pads[i + 2]!)),
    );
    const padded = b.node('Pad', [
      x,
      b.ints([0, 0, pads[0]!, pads[1]!, 0, 0, endPad[0]!, endPad[1]!]),
      b.floats([-Infinity]),
    ]);
    let taken: string | undefined;
    const parts: string[] = [];
    for (let i = 0; i < kernel[0]!; i++) {
      for (let j = 0; j < kernel[1]!; j++) {
        const starts = [i * dilations[0]!, j * dilations[1]!];
        const window = b.node('Slice', [
          padded,
          b.ints(starts),
          b.ints([
            starts[0]! + (outSpatial[0]! - 1) * strides[0]! + 1,
            starts[1]! + (outSpatial[1]! - 1) * strides[1]! + 1,
          ]),
          b.ints([2, 3]),
          b.ints(strides),
        ]);
        const equal = b.node('Equal', [window, y]);
        const first = taken ? b.node('And', [equal, b.node('Not', [taken])]) : equal;
        taken = taken ? b.node('Or', [taken, equal]) : equal;
        parts.push(b.node('Where', [first, g, b.zero()]));
      }
    }
    // [N, K*C, h, w] window-major -> [N, C*K, h, w] channel-major, as the grouped ConvTranspose wants.
    const stacked = b.node('Concat', parts, [intAttr('axis', 1)]);
    const split = b.node('Reshape', [stacked, b.ints([-1, windowSize, channels, outSpatial[0]!, outSpatial[1]!])]);
    const swapped = b.node('Transpose', [split], [intsAttr('perm', [0, 2, 1, 3, 4])]);
    const grouped = b.node('Reshape', [swapped, b.ints([-1, channels * windowSize, outSpatial[0]!, outSpatial[1]!])]);
    const weights = new Array<number>(channels * windowSize * windowSize).fill(0);
    for (let c = 0; c < channels; c++)
      for (let t = 0; t < windowSize; t++) weights[(c * windowSize + t) * windowSize + t] = 1;
    scattered = conv(grouped, weights, channels * windowSize);
  } else {
    const includePad = attrInt(node, 'count_include_pad', 0) === 1;
    const counts = [0, 1].map((axis) =>
      Array.from({ length: outSpatial[axis]! }, (_, o) => {
        let count = 0;
        for (let k = 0; k < kernel[axis]!; k++) {
          const position = o * strides[axis]! - pads[axis]! + k * dilations[axis]!;
          const low = includePad ? -pads[axis]! : 0;
          const high = includePad ? inSpatial[axis]! + pads[axis + 2]! : inSpatial[axis]!;
          if (position >= low && position < high) count++;
        }
        return count;
      }),
    );
    const divisor = counts[0]!.flatMap((rows) => counts[1]!.map((cols) => rows * cols));
    const averaged = b.node('Div', [g, b.floats(divisor, [1, 1, outSpatial[0]!, outSpatial[1]!])]);
    scattered = conv(averaged, new Array<number>(channels * windowSize).fill(1), channels);
  }
  // The scatter covers padded rows [0, extent); the input occupies [pad, pad + size).
  const shortfall = [0, 1].map((i) => Math.max(0, pads[i]! + inSpatial[i]! - extent[i]!));
  const covered = shortfall.some((s) => s > 0)
    ? b.node('Pad', [scattered, b.ints([0, 0, 0, 0, 0, 0, shortfall[0]!, shortfall[1]!]), b.zero()])
    : scattered;
  return b.node('Slice', [
    covered,
    b.ints([pads[0]!, pads[1]!]),
    b.ints([pads[0]! + inSpatial[0]!, pads[1]! + inSpatial[1]!]),
    b.ints([2, 3]),
  ]);
}

export const POOLING_RULES: GradientRule[] = [
  {
    op: 'GlobalAveragePool',
    opsets: [1, LATEST_OPSET],
    backward(b, s) {
      const spatial = b
        .shapeOf(s.x)
        .slice(2)
        .reduce((x, y) => x * y, 1);
      if (s.wants(0))
        s.emit(0, b.node('Mul', [b.node('Expand', [s.g, b.node('Shape', [s.x])]), b.floats([1 / spatial])]));
    },
  },
  {
    op: 'MaxPool',
    opsets: [8, LATEST_OPSET],
    backward: (b, s) => s.wants(0) && s.emit(0, poolingBackward(b, s.node, s.g, s.label)),
  },
  {
    op: 'AveragePool',
    opsets: [7, LATEST_OPSET],
    backward: (b, s) => s.wants(0) && s.emit(0, poolingBackward(b, s.node, s.g, s.label)),
  },
];
