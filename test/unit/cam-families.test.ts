/**
 * The family x method table against pytorch-grad-cam itself, in small: every torchvision classification
 * family (the same classes and blocks, fewer stages and channels, small inputs) is built with seeded
 * weights and exported at opsets 13 and 17 by bench/models/small_families.py (Debian's torch, run here),
 * and the CAM engine explains each export at the family's usual target layer with every layer method.
 * The reference maps in test/fixtures/cam/families/families.json are the library's, run on the same
 * weights and input (its `reference` mode; the library is not installed where the tests run), so the
 * export's logits are first checked to be the reference's. Pearson >= 0.999 at layer resolution; where
 * the library projects on a principal component (EigenCAM, EigenGrad-CAM) either sign is accepted.
 * The benchmark-sized run of the full models is bench/gradcam-families.ts (docs/BENCHMARKS.md).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CamEngine } from '../../src-main/explain/cam/engine.ts';
import type { CamMethod } from '../../src-main/explain/cam/maps.ts';
import { ADVICE_CHUNK, zeroGradientLayers } from '../../src-main/explain/cam/layer-advice.ts';
import type { LayerLayouts } from '../../src-shared/schemas/project.ts';
import { decodeFloats, pearson } from '../support/stats.ts';

interface Reference {
  name: string;
  module: string;
  /** [height, width] */
  size: [number, number];
  logits: number[];
  targets: number[];
  /** method -> per target, the library's map (two for a projection: ReLU(P) and ReLU(-P)) */
  maps: Record<string, string[][]>;
}
interface Exported {
  name: string;
  layers: Record<string, string>;
  input: string;
  logits: number[];
  /** The manifest's `layers`, for a model whose token layout the shapes do not tell (DeiT). */
  layouts: LayerLayouts | null;
}

const { cases } = JSON.parse(readFileSync('test/fixtures/cam/families/families.json', 'utf8')) as {
  cases: Reference[];
};
const folder = mkdtempSync(join(tmpdir(), 'xaiws-families-'));
let exported: Map<string, Exported>;

beforeAll(async () => {
  await promisify(execFile)('/usr/bin/python3', ['bench/models/small_families.py', 'export', folder], {
    env: { ...process.env, OMP_NUM_THREADS: '2' },
    maxBuffer: 1 << 24,
  });
  const listing = JSON.parse(readFileSync(join(folder, 'export.json'), 'utf8')) as { cases: Exported[] };
  exported = new Map(listing.cases.map((c) => [c.name, c]));
});
afterAll(() => rmSync(folder, { recursive: true, force: true }));

const factory = (bytes: Uint8Array) =>
  ort.InferenceSession.create(bytes, { intraOpNumThreads: 2, graphOptimizationLevel: 'all' });

/**
 * The best correlation of `map` with any of the library's alternatives; 1 where both are flat, and
 * where the library's map is NaN (Ablation-CAM divides by a class score of exactly 0, which SqueezeNet's
 * ReLU before its logits gives) 1 if the app's is finite.
 */
function agreement(map: Float32Array, alternatives: Float32Array[]): number {
  if (alternatives.some((expected) => expected.some((v) => !Number.isFinite(v))))
    return map.every(Number.isFinite) ? 1 : Number.NaN;
  let best = -1;
  for (const expected of alternatives) {
    const flat = (values: Float32Array) => Math.max(...values) - Math.min(...values) < 1e-7;
    if (flat(expected) && flat(map)) return 1;
    if (!flat(expected)) best = Math.max(best, pearson(map, expected));
  }
  return best;
}

describe.each(cases)('$name at $module against pytorch-grad-cam', (reference) => {
  it.each([13, 17])('opset %i: the weights are the reference run and every method matches it', async (opset) => {
    const family = exported.get(reference.name)!;
    const input = decodeFloats(family.input);
    const [height, width] = reference.size;
    expect(input.length).toBe(3 * height * width);
    const bytes = readFileSync(join(folder, `${reference.name}_${opset}.onnx`));
    const spec = { dims: [3, height, width], layout: 'NCHW' as const };
    const engine = await CamEngine.create(bytes, spec, factory, { layouts: family.layouts ?? undefined });
    try {
      // The same seeded weights as the library's run: PyTorch's logits then and now, and onnxruntime's.
      const scale = Math.max(...reference.logits.map(Math.abs));
      const logits = await engine.logits(input, 1);
      for (const [k, value] of reference.logits.entries()) {
        expect(Math.abs(family.logits[k]! - value) / scale).toBeLessThan(1e-5);
        expect(Math.abs(logits[k]! - value) / scale).toBeLessThan(1e-3);
      }
      if (family.layouts) {
        // Read from the shapes alone, its 26 tokens would be 1 + 5 x 5: the manifest's layout is what counts.
        const detected = await CamEngine.create(bytes, spec, factory);
        const guess = detected.layer(family.layers[opset]!);
        await detected.release();
        expect([guess.shape, guess.layout]).toEqual([[32, 5, 5], { kind: 'tokens', skip: 1 }]);
        const given = engine.layer(family.layers[opset]!);
        expect([given.shape, given.layout]).toEqual([[32, 4, 6], { kind: 'tokens', skip: 2 }]);
      }
      const failures: string[] = [];
      for (const [method, perTarget] of Object.entries(reference.maps)) {
        for (const [t, target] of reference.targets.entries()) {
          const [result] = await engine.explain(input, 1, {
            method: method as CamMethod,
            layer: family.layers[opset]!,
            targets: [target],
          });
          const alternatives = perTarget[t]!.map(decodeFloats);
          expect(result!.map.length, method).toBe(alternatives[0]!.length);
          const r = agreement(result!.map, alternatives);
          if (!(r >= 0.999)) failures.push(`${method} class ${target}: r = ${r.toFixed(6)}`);
        }
      }
      expect(failures).toEqual([]);
      if (engine.layers().some((l) => l.gradients && l.layout)) {
        // The layer advice through the part of the model after the checked layers, its inputs fixed
        // values, finds the same zero-gradient layers as through the whole model from an image.
        const cut = await CamEngine.create(bytes, spec, factory, { layouts: family.layouts ?? undefined });
        const whole = vi.spyOn(cut, 'gradientsOf');
        try {
          const zero = await zeroGradientLayers(cut);
          expect(whole).not.toHaveBeenCalled();
          expect(zero).toEqual(await zeroGradientLayers(engine, ADVICE_CHUNK, true));
          if (/^(vit|deit)/.test(reference.name)) expect(zero.length).toBeGreaterThan(0);
        } finally {
          await cut.release();
        }
      }
    } finally {
      await engine.release();
    }
  });
});
