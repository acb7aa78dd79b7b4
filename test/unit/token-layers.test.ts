/**
 * Layers that hold their map as channels last ([N, H, W, C], Swin) or as tokens ([N, T, C] with T a
 * square, after a class token or not: ViT) are read as spatial maps (pytorch-grad-cam's
 * reshape_transform, detected from the shape): the layout rules, the transposition to NCHW planes,
 * and Grad-CAM at a channels-last or token view of a tensor equal to Grad-CAM at the tensor itself.
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { CamEngine } from '../../src-main/explain/cam/engine.ts';
import { spatialLayout, toPlanes } from '../../src-main/models/gradient/layers.ts';
import { floatTensor, int, int64Tensor, ints, makeModel, node, seeded } from '../support/onnx-builder.ts';

describe('token and channels-last layers', () => {
  it('reads shapes as NCHW, channels last or tokens with and without a class token', () => {
    expect(spatialLayout([2, 64, 7, 7])).toEqual({ shape: [64, 7, 7] });
    expect(spatialLayout([2, 7, 7, 768])).toEqual({ shape: [768, 7, 7], layout: { kind: 'nhwc' } });
    expect(spatialLayout([2, 197, 768])).toEqual({ shape: [768, 14, 14], layout: { kind: 'tokens', skip: 1 } });
    expect(spatialLayout([2, 49, 96])).toEqual({ shape: [96, 7, 7], layout: { kind: 'tokens', skip: 0 } });
    expect(spatialLayout([2, 10, 96])).toEqual({ shape: [96, 3, 3], layout: { kind: 'tokens', skip: 1 } });
    expect(spatialLayout([2, 11, 96])).toBeNull();
    expect(spatialLayout([2, 512])).toBeNull();
    expect(spatialLayout([2, 512, 1, 1])).toBeNull();
  });

  it("reads them as the manifest's layers say where the shapes mislead", () => {
    // DeiT: class and distillation tokens before a 4 x 6 grid; 26 tokens would read as 1 + 5 x 5
    expect(spatialLayout([2, 26, 32])).toEqual({ shape: [32, 5, 5], layout: { kind: 'tokens', skip: 1 } });
    const deit = { tokens: { skip: 2, grid: [4, 6] as [number, number] } };
    expect(spatialLayout([2, 26, 32], deit)).toEqual({ shape: [32, 4, 6], layout: { kind: 'tokens', skip: 2 } });
    expect(spatialLayout([2, 25, 32], deit)).toBeNull();
    // channels last with a non-square map, and an NCHW map with as many channels as rows
    expect(spatialLayout([2, 7, 10, 768], { channelsLast: true })).toEqual({
      shape: [768, 7, 10],
      layout: { kind: 'nhwc' },
    });
    expect(spatialLayout([2, 8, 8, 16])).toEqual({ shape: [16, 8, 8], layout: { kind: 'nhwc' } });
    expect(spatialLayout([2, 8, 8, 16], { channelsLast: false })).toEqual({ shape: [8, 8, 16] });
  });

  it('moves channels-last and token values (dropping the class token) into NCHW planes', () => {
    // Two images of 2 channels on a 2 x 2 map, as tokens after a class token: [2, 1 + 4, 2].
    const tokens = Float32Array.from({ length: 2 * 5 * 2 }, (_, i) => i);
    const planes = toPlanes(tokens, { shape: [2, 2, 2], layout: { kind: 'tokens', skip: 1 } }, 2);
    expect(Array.from(planes)).toEqual([2, 4, 6, 8, 3, 5, 7, 9, 12, 14, 16, 18, 13, 15, 17, 19]);
    const nhwc = Float32Array.from({ length: 8 }, (_, i) => i);
    expect(Array.from(toPlanes(nhwc, { shape: [2, 2, 2], layout: { kind: 'nhwc' } }, 1))).toEqual([
      0, 2, 4, 6, 1, 3, 5, 7,
    ]);
  });

  it('gives the same Grad-CAM, HiResCAM, EigenCAM and Ablation-CAM at a channels-last or token view as at the map itself', async () => {
    // x [N, 3, 4, 4] -> conv-free map r = Relu(x * w) -> t: [N, 4, 4, 3] (NHWC) and k: [N, 16, 3] (tokens) -> score
    const model = makeModel({
      inputShape: [3, 4, 4],
      nodes: [
        node('Mul', ['x', 'scale'], 'scaled'),
        node('Relu', ['scaled'], 'r'),
        node('Transpose', ['r'], 't', [ints('perm', [0, 2, 3, 1])]),
        node('Reshape', ['t', 'tokenShape'], 'k'),
        node('Flatten', ['k'], 'flat', [int('axis', 1)]),
        node('Gemm', ['flat', 'w'], 'y', [int('transB', 1)]),
      ],
      initializers: [
        floatTensor('scale', [1, 3, 1, 1], [1, -0.5, 2]),
        int64Tensor('tokenShape', [3], [0, 16, 3]),
        floatTensor('w', [5, 48], seeded(240, 7)),
      ],
      result: 'y',
    });
    const engine = await CamEngine.create(model.encode(), { dims: [3, 4, 4], layout: 'NCHW' }, (bytes) =>
      ort.InferenceSession.create(bytes),
    );
    const layers = Object.fromEntries(engine.layers().map((l) => [l.name, l]));
    expect(layers.t).toMatchObject({ shape: [3, 4, 4], layout: { kind: 'nhwc' }, gradients: true });
    expect(layers.k).toMatchObject({ shape: [3, 4, 4], layout: { kind: 'tokens', skip: 0 }, gradients: true });
    const x = seeded(96, 3);
    // Ablation-CAM feeds the tail after the layer with a channel ablated in the layer's own layout
    for (const method of ['gradcam', 'hirescam', 'eigencam', 'ablationcam'] as const) {
      const at = async (layer: string) =>
        Array.from((await engine.explain(x, 2, { method, layer, targets: [1, -1] })).flatMap((r) => Array.from(r.map)));
      const reference = await at('r');
      expect(Math.max(...reference)).toBeGreaterThan(0);
      for (const view of ['t', 'k']) {
        const maps = await at(view);
        maps.forEach((v, i) => expect(v, `${method} at ${view}, value ${i}`).toBeCloseTo(reference[i]!, 5));
      }
    }
    await engine.release();
  });
});
