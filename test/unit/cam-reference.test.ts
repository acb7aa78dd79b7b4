/**
 * The CAM engine against PyTorch: test/fixtures/cam/reference.json holds maps computed with autograd by
 * training/cam_reference.py (`npm run models -- cam-reference`) for three architectures, three layers
 * each, the predicted and a fixed class, every method. The engine must reproduce each map with Pearson
 * correlation >= 0.999 at layer resolution, and pick the same classes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { CamEngine } from '../../src-main/explain/cam/engine.ts';
import { CAM_METHODS } from '../../src-main/explain/cam/maps.ts';
import { decodeFloats, pearson } from '../support/stats.ts';

const folder = 'test/fixtures/cam';
const reference = JSON.parse(readFileSync(join(folder, 'reference.json'), 'utf8'));
const decode = decodeFloats;
const input = decode(reference.input);
const [count = 0, ...dims] = reference.inputShape as number[];
const factory = (bytes: Uint8Array) =>
  ort.InferenceSession.create(bytes, { intraOpNumThreads: 2, graphOptimizationLevel: 'all' });

const engines: CamEngine[] = [];
const worst: Record<string, number> = {};
let zeroMaps = 0;
afterAll(async () => {
  if (process.env.XAIWS_REPORT) console.log('lowest Pearson r per method', worst, 'maps zero in both', zeroMaps);
  await Promise.all(engines.map((e) => e.release()));
});

describe.each(
  reference.models as {
    name: string;
    file: string;
    ops: string[];
    layers: {
      module: string;
      tensor: string;
      shape: number[];
      cases: { target: string | number; chosen: number[]; logits: string; maps: Record<string, string> }[];
    }[];
  }[],
)('CAM maps of the $name network against PyTorch autograd', (entry) => {
  let engine: CamEngine;
  it('loads, lists the reference layers as candidates with gradients', async () => {
    engine = await CamEngine.create(readFileSync(join(folder, entry.file)), { dims, layout: 'NCHW' }, factory);
    engines.push(engine);
    for (const layer of entry.layers) {
      const info = engine.layer(layer.tensor);
      expect(info.shape.slice(1)).toEqual(layer.shape);
      expect(info.gradients).toBe(true);
    }
  });
  for (const layer of entry.layers) {
    for (const method of CAM_METHODS.filter((m) => m in layer.cases[0]!.maps)) {
      it(`${method} at ${layer.module} (${layer.shape.join('x')})`, async () => {
        for (const c of layer.cases) {
          const targets = new Array(count).fill(c.target === 'pred' ? -1 : c.target);
          const results = await engine.explain(input, count, { method, layer: layer.tensor, targets });
          const expectedLogits = decode(c.logits);
          const expectedMaps = decode(c.maps[method]!);
          const plane = layer.shape[0]! * layer.shape[1]!;
          results.forEach((result, i) => {
            expect(result.target).toBe(c.chosen[i]);
            expect(
              Math.max(...result.logits.map((v, k) => Math.abs(v - expectedLogits[i * result.logits.length + k]!))),
            ).toBeLessThan(1e-3);
            const expected = expectedMaps.subarray(i * plane, (i + 1) * plane);
            const scale = Math.max(...expected);
            if (scale < 1e-6) {
              // A map that is zero everywhere after the ReLU must be (near) zero here too.
              expect(Math.max(...result.map)).toBeLessThan(1e-5);
              zeroMaps++;
            } else {
              const r = pearson(result.map, expected);
              worst[method] = Math.min(worst[method] ?? 1, r);
              expect(r, `${entry.name} ${layer.module} ${method} target ${c.target} image ${i}`).toBeGreaterThanOrEqual(
                0.999,
              );
            }
          });
        }
      });
    }
  }
});
