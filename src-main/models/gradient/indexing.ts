/**
 * Gradient rules of ops that pick parts of a tensor by constant positions: Slice (any positive step),
 * Gather (a constant scalar or vector of indices, as x[:, 0] and class-token reads export), Split,
 * Tile. The gradient goes back to the positions the values came from; positions nothing was taken
 * from get zero. Positions come from constant inputs or attributes; the batch axis may not be cut.
 */
import { ApiError } from '../../../src-shared/errors.ts';
import { attrInt, intAttr, intsAttr } from '../onnx/model.ts';
import { LATEST_OPSET, type GradientContext, type GradientRule, type Step } from './context.ts';

function constantInput(b: GradientContext, s: Step, index: number, what: string): number[] | undefined {
  const name = s.inputs[index];
  if (!name) return undefined;
  const values = b.constantInts(name);
  if (!values) throw new ApiError('model_unsupported_op', `${s.label}: its ${what} must be constant`);
  return values;
}

/** Zero padding of `g` on one axis (rank known), `before` and `after` elements. */
function padAxis(b: GradientContext, g: string, rank: number, axis: number, before: number, after: number): string {
  if (before === 0 && after === 0) return g;
  const pads = new Array<number>(2 * rank).fill(0);
  pads[axis] = before;
  pads[axis + rank] = after;
  return b.node('Pad', [g, b.ints(pads)]);
}

/** `shape` as a Reshape target that keeps the batch axis (if any) dynamic. */
function dynamicBatch(shape: number[], batch: number | null): number[] {
  return shape.map((d, axis) => (axis === batch ? -1 : d));
}

function noBatch(b: GradientContext, s: Step, axis: number): void {
  if (axis === b.batchAxis(s.x)) throw new ApiError('model_unsupported_op', `${s.label}: it cuts the batch axis`);
}

const slice: GradientRule = {
  op: 'Slice',
  opsets: [10, LATEST_OPSET],
  backward(b, s) {
    if (!s.wants(0)) return;
    const shape = b.shapeOf(s.x);
    const rank = shape.length;
    const starts = constantInput(b, s, 1, 'starts')!;
    const axes = constantInput(b, s, 3, 'axes') ?? starts.map((_, i) => i);
    const steps = constantInput(b, s, 4, 'steps') ?? starts.map(() => 1);
    let g = s.g;
    let current = b.shapeOf(s.y);
    axes.forEach((raw, i) => {
      const axis = raw < 0 ? raw + rank : raw;
      const dim = shape[axis]!;
      let step = steps[i]!;
      if (step === 0) throw new ApiError('model_unsupported_op', `${s.label}: a step of 0 is not a slice`);
      const taken = current[axis]!;
      let start: number;
      if (step > 0) start = Math.min(Math.max(starts[i]! < 0 ? starts[i]! + dim : starts[i]!, 0), dim);
      else {
        // Taken backwards (x.flip, [::-1]): reverse the gradient and place it as the ascending slice it is.
        const first = Math.min(Math.max(starts[i]! < 0 ? starts[i]! + dim : starts[i]!, -1), dim - 1);
        g = b.node('Slice', [g, b.ints([-1]), b.ints([-(2 ** 53)]), b.ints([axis]), b.ints([-1])]);
        start = first + (taken - 1) * step;
        step = -step;
      }
      if (taken === dim && step === 1) return; // the whole axis
      noBatch(b, s, axis);
      if (step > 1) {
        // [.., n, ..] -> [.., n, 1, ..] -> pad to [.., n, step, ..] -> [.., n * step, ..]: values at start, start + step, ...
        const spaced = padAxis(b, b.unsqueeze(g, [axis + 1]), rank + 1, axis + 1, 0, step - 1);
        const merged = [...current];
        merged[axis] = taken * step;
        const batch = b.batchAxis(s.x);
        g = b.node('Reshape', [spaced, b.ints(dynamicBatch(merged, batch))]);
        current = merged;
      }
      const length = Math.min(current[axis]!, dim - start);
      if (length < current[axis]!) g = b.node('Slice', [g, b.ints([0]), b.ints([length]), b.ints([axis])]);
      g = padAxis(b, g, rank, axis, start, dim - start - length);
      current = [...current];
      current[axis] = dim;
    });
    s.emit(0, g);
  },
};

const gather: GradientRule = {
  op: 'Gather',
  opsets: [11, LATEST_OPSET],
  backward(b, s) {
    if (!s.wants(0)) return;
    const shape = b.shapeOf(s.x);
    const rank = shape.length;
    let axis = attrInt(s.node, 'axis', 0);
    if (axis < 0) axis += rank;
    noBatch(b, s, axis);
    const dim = shape[axis]!;
    const indices = constantInput(b, s, 1, 'indices')!.map((i) => (i < 0 ? i + dim : i));
    const indexDims = b.shapeOf(s.inputs[1]!);
    if (indexDims.length === 0) {
      const at = indices[0]!;
      return s.emit(0, padAxis(b, b.unsqueeze(s.g, [axis]), rank, axis, at, dim - at - 1));
    }
    if (indexDims.length > 1)
      throw new ApiError('model_unsupported_op', `${s.label}: only scalar or vector indices are supported`);
    // g's axis holds the picked entries: move it last, multiply by the one-hot [picked, dim], move it back.
    const oneHot = new Array<number>(indices.length * dim).fill(0);
    indices.forEach((index, row) => (oneHot[row * dim + index]! += 1));
    const last = [...Array(rank).keys()].filter((a) => a !== axis).concat(axis);
    const back = new Array<number>(rank);
    last.forEach((a, i) => (back[a] = i));
    const moved = b.node('Transpose', [s.g], [intsAttr('perm', last)]);
    const spread = b.node('MatMul', [moved, b.floats(oneHot, [indices.length, dim])]);
    s.emit(0, b.node('Transpose', [spread], [intsAttr('perm', back)]));
  },
};

const split: GradientRule = {
  op: 'Split',
  opsets: [11, LATEST_OPSET],
  backward(b, s) {
    if (!s.wants(0)) return;
    const rank = b.shapeOf(s.x).length;
    let axis = attrInt(s.node, 'axis', 0);
    if (axis < 0) axis += rank;
    noBatch(b, s, axis);
    const parts = (s.node.output ?? []).map((output, index) => s.outputGradient(index) ?? b.zerosLike(output));
    s.emit(0, b.node('Concat', parts, [intAttr('axis', axis)]));
  },
};

const tile: GradientRule = {
  op: 'Tile',
  opsets: [6, LATEST_OPSET],
  backward(b, s) {
    if (!s.wants(0)) return;
    const shape = b.shapeOf(s.x);
    const repeats = b.shapeOf(s.y).map((d, axis) => d / shape[axis]!);
    const batch = b.batchAxis(s.x);
    if (batch !== null && repeats[batch] !== 1)
      throw new ApiError('model_unsupported_op', `${s.label}: it repeats the batch axis`);
    // Tile lays out [r, d] per axis: split each tiled axis into (r, d) and sum the r parts.
    const split: number[] = [];
    const summed: number[] = [];
    shape.forEach((dim, axis) => {
      const size = axis === batch ? -1 : dim;
      if (repeats[axis]! > 1) summed.push(split.length);
      split.push(...(repeats[axis]! > 1 ? [repeats[axis]!, size] : [size]));
    });
    if (summed.length === 0) return s.emit(0, s.g);
    s.emit(0, b.reduceSum(b.node('Reshape', [s.g, b.ints(split)]), summed, false));
  },
};

export const INDEXING_RULES: GradientRule[] = [slice, gather, split, tile];
