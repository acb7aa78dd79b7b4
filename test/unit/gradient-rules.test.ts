/**
 * What the gradient builder refuses, by name (weights, unsupported ops and opsets, paths that do not reach the output), and its op table: every op once, the supported list derived from it.
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import {
  buildGradientModel,
  gradientOutputName,
  TARGET_INPUT,
  unsupportedOps,
} from '../../src-main/models/gradient/builder.ts';
import { GRADIENT_OPS, GRADIENT_RULES } from '../../src-main/models/gradient/table.ts';
import { probeShapes } from '../../src-main/models/onnx/probe.ts';
import { CamEngine } from '../../src-main/explain/cam/engine.ts';
import { floatTensor, int, ints, makeModel, node, seeded, session } from '../support/onnx-builder.ts';
import { conv } from '../support/onnx-builder.ts';

describe('gradient graph refusals', () => {
  it('names the unsupported op and its node, and says gradient-free methods still work', async () => {
    const model = makeModel({
      inputShape: [4],
      nodes: [node('Sin', ['x'], 'e'), node('Relu', ['e'], 'y')],
      result: 'y',
    });
    const { shapes } = await probeShapes(model, [4]);
    expect(unsupportedOps(model, ['x'], 'score').map((n) => n.opType)).toEqual(['Sin']);
    expect(() => buildGradientModel(model, shapes, { targets: ['x'] })).toThrow(
      /Op Sin \(node "e"\).*gradient-free methods/,
    );
  });

  it('keeps the gradient-free methods working on a model the gradient builder cannot cross', async () => {
    const c = conv('features', 'x', 4, 2, [3, 3], [ints('pads', [1, 1, 1, 1])], 3);
    const model = makeModel({
      inputShape: [2, 5, 5],
      nodes: [
        c.node,
        node('Relu', ['features'], 'act'),
        node('Sin', ['act'], 'e'),
        node('Flatten', ['e'], 'flat', [int('axis', 1)]),
        node('Gemm', ['flat', 'w'], 'y', [int('transB', 1)]),
      ],
      initializers: [...c.inits, floatTensor('w', [3, 100], seeded(300, 4, -0.1, 0.1))],
      result: 'y',
    });
    const engine = await CamEngine.create(model.encode(), { dims: [2, 5, 5], layout: 'NCHW' }, (bytes) =>
      ort.InferenceSession.create(bytes),
    );
    const layer = engine.layer('act');
    expect(layer.gradients).toBe(false);
    expect(layer.note).toMatch(/op Sin \(node "e"\)/);
    const x = seeded(50, 8);
    for (const method of ['scorecam', 'ablationcam', 'eigencam'] as const) {
      const [result] = await engine.explain(x, 1, { method, layer: 'act', targets: [-1] });
      expect(result!.map).toHaveLength(25);
      expect(Math.max(...result!.map)).toBeGreaterThan(0);
    }
    await expect(engine.explain(x, 1, { method: 'gradcam', layer: 'act', targets: [-1] })).rejects.toMatchObject({
      code: 'model_unsupported_op',
    });
    await engine.release();
  });

  it('refuses a tensor that does not lead to the score, and one that does not exist', async () => {
    const model = makeModel({
      inputShape: [4],
      nodes: [node('Relu', ['x'], 'side'), node('Sigmoid', ['x'], 'y')],
      result: 'y',
    });
    const { shapes } = await probeShapes(model, [4]);
    expect(() => buildGradientModel(model, shapes, { targets: ['side'] })).toThrow(
      /"side" does not lead to the output/,
    );
    expect(() => buildGradientModel(model, shapes, { targets: ['nope'] })).toThrow(/no tensor named "nope"/);
  });

  it('refuses models older than opset 11', async () => {
    const model = makeModel({ inputShape: [4], nodes: [node('Relu', ['x'], 'y')], result: 'y', opset: 10 });
    const { shapes } = await probeShapes(model, [4]);
    expect(() => buildGradientModel(model, shapes, { targets: ['x'] })).toThrow(/opset 10/);
  });

  it('guided ReLU drops negative incoming gradients', async () => {
    const model = makeModel({
      inputShape: [4],
      nodes: [node('Relu', ['x'], 'r'), node('Mul', ['r', 'w'], 'y')],
      initializers: [floatTensor('w', [4], [1, -1, 1, -1])],
      result: 'y',
    });
    const { shapes } = await probeShapes(model, [4]);
    const built = buildGradientModel(model, shapes, { targets: ['x'], guidedRelu: true });
    const s = await session(built.model);
    const x = new Float32Array([1, 1, -1, 1]);
    const sums = [];
    for (const target of [0, 1, 2, 3]) {
      const out = await s.run({
        x: new ort.Tensor('float32', x, [1, 4]),
        [TARGET_INPUT]: new ort.Tensor('int64', BigInt64Array.from([BigInt(target)]), [1]),
      });
      sums.push(Array.from(out[gradientOutputName('x')]!.data as Float32Array));
    }
    expect(sums).toEqual([
      [1, 0, 0, 0],
      [0, 0, 0, 0],
      [0, 0, 0, 0],
      [0, 0, 0, 0],
    ]);
  });
});

describe('the op table', () => {
  it('lists every op once, in the families of DESIGN.md, and the supported ops are derived from it', () => {
    const ops = GRADIENT_RULES.map((rule) => rule.op);
    expect(new Set(ops).size).toBe(ops.length);
    expect([...GRADIENT_OPS].sort()).toEqual([...ops].sort());
    for (const rule of GRADIENT_RULES) expect(rule.opsets[0]).toBeLessThanOrEqual(rule.opsets[1]);
  });

  it('refuses an op outside its opset range by name, with the range it supports', async () => {
    // HardSwish exists from opset 14: in an opset-13 model the builder names the range instead of guessing.
    const model = makeModel({
      opset: 13,
      inputShape: [4],
      nodes: [node('HardSwish', ['x'], 'h'), node('MatMul', ['h', 'w'], 'score')],
      initializers: [floatTensor('w', [4, 3], seeded(12, 3))],
      result: 'score',
    });
    const shapes = new Map([
      ['x', [2, 4]],
      ['h', [2, 4]],
      ['w', [4, 3]],
      ['score', [2, 3]],
    ]);
    expect(() => buildGradientModel(model, shapes, { targets: ['x'] })).toThrow(
      /HardSwish at opsets 14 to \d+, and the model uses opset 13/,
    );
  });
});
