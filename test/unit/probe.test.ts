/**
 * The shape probe measures every tensor from small summaries (its shape and first elements) instead of
 * copying every tensor out. Both ways must agree on everything the graph tools read: shapes at batch 2,
 * element types, batch axes (also where a transpose moves the batch), and the static values of small
 * integer tensors (and not of those that follow the batch). Below opset 10 the probe copies tensors out.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OnnxModel } from '../../src-main/models/onnx/model.ts';
import { probeShapes } from '../../src-main/models/onnx/probe.ts';
import { int, int64Tensor, ints, makeModel, node } from '../support/onnx-builder.ts';
import { ROOT } from '../support/host.ts';

const FLOAT64 = 11;
const FLOAT = 1;

/** Shape arithmetic, a moved batch axis, a bool mask and a float64 detour on a [N, 4, 6] input. */
function shapeModel(opset: number) {
  const nodes = [
    node('Transpose', ['x'], 't', [ints('perm', [1, 0, 2])]), // [4, N, 6]: the batch on axis 1
    node('Shape', ['t'], 'shape_t'), // [4, N, 6]: follows the batch, not static
    node('Shape', ['x'], 'shape_x'),
    node('Gather', ['shape_x', 'two'], 'width', [int('axis', 0)]), // 6 at every batch size: static
    node('Greater', ['t', 'zero'], 'positive'), // bool
    node('Cast', ['t'], 'wide', [int('to', FLOAT64)]),
    node('Cast', ['wide'], 'narrow', [int('to', FLOAT)]),
    node('Where', ['positive', 'narrow', 'zero'], 'relu'),
    node('Transpose', ['relu'], 'y', [ints('perm', [1, 0, 2])]),
  ];
  const initializers = [int64Tensor('two', [], [2]), { name: 'zero', dataType: FLOAT, dims: [], floatData: [0] }];
  return makeModel({ inputShape: [4, 6], nodes, initializers, result: 'y', opset });
}

describe('shape probe', () => {
  it('measures shapes, types, batch axes and static values from summaries as from the tensors', async () => {
    const model = shapeModel(13);
    const summarised = await probeShapes(model, [4, 6]);
    const copied = await probeShapes(model, [4, 6], { summaries: false });
    expect(summarised).toEqual(copied);
    expect(summarised.shapes.get('t')).toEqual([4, 2, 6]);
    expect(summarised.batchAxes.get('t')).toBe(1);
    expect(summarised.batchAxes.get('y')).toBe(0);
    expect(summarised.types.get('positive')).toBe('bool');
    expect(summarised.types.get('wide')).toBe('float64');
    expect(summarised.types.get('shape_t')).toBe('int64');
    expect(summarised.values.get('width')).toEqual([6]);
    expect(summarised.values.has('shape_t')).toBe(false); // [4, 2, 6] at batch 2, [4, 1, 6] at 1
    expect(summarised.values.get('shape_x')).toBeUndefined();
    expect(summarised.shapes.get('score')).toEqual([2, 24]);
  });

  it('agrees with copying every tensor on a real classifier', async () => {
    const model = OnnxModel.read(readFileSync(join(ROOT, 'resources/models/fashion-mnist-cnn/classifier.onnx')));
    const summarised = await probeShapes(model, [1, 28, 28], { threads: 2 });
    expect(summarised).toEqual(await probeShapes(model, [1, 28, 28], { threads: 2, summaries: false }));
    expect(summarised.shapes.get('/features/features.10/Relu_output_0')).toEqual([2, 64, 7, 7]);
  });

  it('copies the tensors out below opset 10, where Slice takes no inputs', async () => {
    const model = makeModel({
      inputShape: [4, 6],
      nodes: [node('Transpose', ['x'], 't', [ints('perm', [1, 0, 2])]), node('Relu', ['t'], 'y')],
      result: 'y',
      opset: 9,
    });
    const probe = await probeShapes(model, [4, 6]);
    expect(probe.shapes.get('t')).toEqual([4, 2, 6]);
    expect(probe.batchAxes.get('t')).toBe(1);
  });
});
