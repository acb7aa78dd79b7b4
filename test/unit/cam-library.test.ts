/**
 * The CAM methods beyond the first eight, the smoothing options and the pixel attributions, against
 * test/fixtures/cam/library/library.json (bench/models/library_reference.py): maps of pytorch-grad-cam
 * itself on the same weights (a residual CNN and a small ViT, 32-px colour photographs), and pixel
 * attributions and the ViT's attention and gradient rollouts computed with autograd from their definitions
 * (the attention made explicit in torch). Pearson >= 0.999 at the map's resolution;
 * where the library projects on a principal component (whose sign is arbitrary) either sign is accepted.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { CamEngine } from '../../src-main/explain/cam/engine.ts';
import { geometry, maxAbsOverChannels } from '../../src-main/explain/cam/input.ts';
import { rise, smoothGrad } from '../../src-main/explain/cam/pixels.ts';
import { gradientMap, type CamMethod, type Smoothing } from '../../src-main/explain/cam/maps.ts';
import { toPlanes } from '../../src-main/models/gradient/layers.ts';
import { decodeFloats, pearson } from '../support/stats.ts';

const folder = 'test/fixtures/cam/library';
const reference = JSON.parse(readFileSync(join(folder, 'library.json'), 'utf8'));
const input = decodeFloats(reference.input);
const [count = 0, ...dims] = reference.inputShape as number[];
const size = dims.reduce((a, b) => a * b, 1);
const factory = (bytes: Uint8Array) =>
  ort.InferenceSession.create(bytes, { intraOpNumThreads: 2, graphOptimizationLevel: 'all' });
const engines: CamEngine[] = [];
afterAll(async () => Promise.all(engines.map((e) => e.release())));

/** The best Pearson r of `map` against any of `expected` (maps of `plane` values per image, image `i`). */
function bestMatch(map: Float32Array, expected: Float32Array[], i: number, plane: number): number | 'zero' {
  let best = -1;
  for (const all of expected) {
    const one = all.subarray(i * plane, (i + 1) * plane);
    if (Math.max(...one) < 1e-6) {
      if (Math.max(...map) < 1e-5) return 'zero';
      continue;
    }
    best = Math.max(best, pearson(map, one));
  }
  return best;
}

interface Entry {
  name: string;
  file: string;
  layers: {
    module: string;
    tensor: string;
    cases: { target: string | number; chosen: number[]; maps: Record<string, string[]> }[];
  }[];
  pixels: {
    image: number;
    target: number;
    layer: string;
    noise: string;
    masks: string;
    completenessGap: number;
    maps: Record<string, string>;
  }[];
}

describe.each(reference.models as Entry[])('the $name network against pytorch-grad-cam', (entry) => {
  let engine: CamEngine;
  const ready = (async () => {
    engine = await CamEngine.create(readFileSync(join(folder, entry.file)), { dims, layout: 'NCHW' }, factory);
    engines.push(engine);
  })();

  for (const layer of entry.layers) {
    for (const key of Object.keys(layer.cases[0]!.maps)) {
      const [method, smoothing = 'none'] = key.split(':') as [CamMethod, Smoothing?];
      it(`${method}${smoothing === 'none' ? '' : ` with ${smoothing} smoothing`} at ${layer.module}`, async () => {
        await ready;
        for (const c of layer.cases) {
          const targets = new Array(count).fill(c.target === 'pred' ? -1 : c.target);
          const results = await engine.explain(input, count, { method, layer: layer.tensor, targets, smoothing });
          const expected = c.maps[key]!.map(decodeFloats);
          results.forEach((result, i) => {
            expect(result.target).toBe(c.chosen[i]);
            const plane = result.layerShape[0] * result.layerShape[1];
            expect(expected[0]!.length).toBe(count * plane);
            const r = bestMatch(result.map, expected, i, plane);
            if (r !== 'zero') expect(r, `${key} target ${c.target} image ${i}`).toBeGreaterThanOrEqual(0.999);
          });
        }
      });
    }
  }

  it('Random-CAM: a reproducible map from uniform channel weights, unlike Grad-CAM', async () => {
    await ready;
    const layer = entry.layers.at(-1)!.tensor;
    const request = { method: 'randomcam' as const, layer, targets: [-1, -1] };
    const [a, b] = await Promise.all([engine.explain(input, count, request), engine.explain(input, count, request)]);
    const [gradcam] = await engine.explain(input, count, { ...request, method: 'gradcam' });
    expect(a![0]!.map).toEqual(b![0]!.map);
    expect(Math.max(...a![0]!.map)).toBeGreaterThan(0);
    expect(pearson(a![0]!.map, gradcam!.map)).toBeLessThan(0.999);
  });

  it('refuses a smoothing that a method has no use for, by name', async () => {
    await ready;
    const layer = entry.layers.at(-1)!.tensor;
    await expect(
      engine.explain(input, count, { method: 'fem', layer, targets: [-1, -1], smoothing: 'eigen' }),
    ).rejects.toThrow(/fem has no eigen smoothing/);
    await expect(
      engine.explain(input, count, { method: 'saliency', layer, targets: [-1, -1], smoothing: 'aug' }),
    ).rejects.toThrow(/saliency has no aug smoothing/);
    if (entry.name === 'cnn')
      await expect(
        engine.explain(input, count, { method: 'attentionrollout', layer, targets: [-1, -1] }),
      ).rejects.toThrow(/Attention rollout needs a vision transformer with a class token/);
  });

  for (const pixel of entry.pixels) {
    const image = input.subarray(pixel.image * size, (pixel.image + 1) * size);
    for (const method of Object.keys(pixel.maps) as CamMethod[]) {
      it(`${method} of image ${pixel.image} against its definition`, async () => {
        await ready;
        const expected = decodeFloats(pixel.maps[method]!);
        let map: Float32Array;
        if (method === 'smoothgrad')
          map = maxAbsOverChannels(
            await smoothGrad(engine, image, pixel.target, decodeFloats(pixel.noise)),
            geometry(engine.input),
          );
        else if (method === 'rise') map = await rise(engine, image, pixel.target, decodeFloats(pixel.masks));
        else {
          const [result] = await engine.explain(image, 1, { method, layer: pixel.layer, targets: [pixel.target] });
          expect(result!.target).toBe(pixel.target);
          const side = Math.round(Math.sqrt(expected.length));
          expect(result!.layerShape).toEqual(method.endsWith('rollout') ? [side, side] : [dims[1], dims[2]]);
          map = result!.map;
        }
        expect(map.length).toBe(expected.length);
        const scale = Math.max(...expected.map(Math.abs));
        if (scale < 1e-6) expect(Math.max(...map)).toBeLessThan(1e-5);
        else {
          expect(pearson(map, expected), method).toBeGreaterThanOrEqual(0.999);
          const worst = Math.max(...map.map((v, p) => Math.abs(v - expected[p]!)));
          expect(worst / scale, method).toBeLessThan(1e-2);
        }
      });
    }
  }
});

/**
 * Random-CAM: the library draws its channel weights from numpy's global generator, the app from a fixed
 * seed, so the maps can only agree given the same draws. random.json holds the library's maps with the
 * weights it drew (bench/models/library_reference.py --random); the app's Random-CAM arithmetic, fed
 * those weights and the layer's activations from the app's own graph, must give the library's maps.
 */
describe('Random-CAM with the library’s own draws', () => {
  const random = JSON.parse(readFileSync(join(folder, 'random.json'), 'utf8')) as {
    models: { name: string; logits: string; layers: { module: string; weights: string; map: string }[] }[];
  };
  for (const model of random.models) {
    const entry = (reference.models as (Entry & { logits: string })[]).find((e) => e.name === model.name)!;
    it(`matches pytorch-grad-cam's RandomCAM on the ${model.name} network`, async () => {
      // The same weights as the library reference: the same logits.
      expect(decodeFloats(model.logits)).toEqual(decodeFloats(entry.logits));
      const engine = await CamEngine.create(readFileSync(join(folder, entry.file)), { dims, layout: 'NCHW' }, factory);
      engines.push(engine);
      for (const layer of model.layers) {
        const tensor = entry.layers.find((l) => l.module === layer.module)!.tensor;
        const info = engine.layer(tensor);
        const [channels, height, width] = info.shape as [number, number, number];
        const run = await engine.gradientsOf(`random:${tensor}`, [tensor], input, count, new Array(count).fill(-1));
        const planes = toPlanes(run.values(tensor), info, count);
        const weights = decodeFloats(layer.weights);
        const expected = decodeFloats(layer.map);
        const plane = height * width;
        for (let i = 0; i < count; i++) {
          let k = 0;
          const draws = () => (weights[i * channels + k++]! + 1) / 2; // the app's random() is uniform in [0, 1)
          const a = {
            channels,
            height,
            width,
            values: planes.subarray(i * channels * plane, (i + 1) * channels * plane),
          };
          const map = gradientMap('randomcam', a, new Float32Array(0), { random: draws });
          expect(k).toBe(channels);
          expect(
            pearson(map, expected.subarray(i * plane, (i + 1) * plane)),
            `${layer.module} image ${i}`,
          ).toBeGreaterThanOrEqual(0.999);
        }
      }
    });
  }
});
