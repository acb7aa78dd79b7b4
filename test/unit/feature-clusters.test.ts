/**
 * Layer-wise clustered feature maps: the paper's arithmetic on hand-made layers with known answers,
 * and the whole pipeline on the demo classifier (guided gradients from the built ONNX graph).
 */
import { convLayers, layerwise } from '../../src-main/explain/layers/layerwise.ts';
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { CamEngine } from '../../src-main/explain/cam/engine.ts';
import {
  clusterLayer,
  guidedWeights,
  silhouetteScore,
  thresholdPercent,
  type LayerActivity,
} from '../../src-main/explain/layers/clusters.ts';
import { readIdx } from '../../src-main/datasets/read/idx.ts';
import { writeNormalised } from '../../src-main/inference/runtime/tensor.ts';
import { parseManifest } from '../../src-main/models/manifest.ts';
import { seeded } from '../support/onnx-builder.ts';

describe('the arithmetic', () => {
  it('uses the paper thresholds: 0.175% of 512 maps, 0.35% of 256, 0.7% of 128, 1.4% of 64', () => {
    expect([512, 256, 128, 64].map((n) => Number(thresholdPercent(n).toFixed(3)))).toEqual([0.175, 0.35, 0.7, 1.4]);
  });

  it('weights a map by the mean of G x [A > 0] x [G > 0]', () => {
    const layer: LayerActivity = {
      channels: 2,
      height: 1,
      width: 4,
      activations: new Float32Array([1, 0, 2, -1, 1, 1, 1, 1]),
      gradients: new Float32Array([2, 5, -3, 4, 1, 1, 1, 1]),
    };
    // channel 0: only position 0 has A > 0 and G > 0 (2); channel 1: all four (1 each).
    expect(Array.from(guidedWeights(layer))).toEqual([2 / 4, 4 / 4]);
  });

  it('computes the silhouette like scikit-learn on a small known case', () => {
    const points = [
      [0, 0],
      [0, 1],
      [10, 0],
      [10, 1],
    ];
    // a = 1 for every point; b = mean distance to the other pair = (10 + sqrt(101)) / 2.
    const b = (10 + Math.sqrt(101)) / 2;
    expect(silhouetteScore(points, [0, 0, 1, 1])).toBeCloseTo((b - 1) / b, 12);
    expect(silhouetteScore(points, [0, 1, 0, 1])).toBeLessThan(0);
  });

  it('finds three groups of maps that share a pattern, drops weak maps and weak clusters, and repeats itself', () => {
    const height = 6;
    const width = 6;
    const plane = height * width;
    const patterns = [
      (y: number, x: number) => x,
      (y: number) => y,
      (y: number, x: number) => (y - 2.5) ** 2 + (x - 2.5) ** 2,
    ];
    const channels = 64;
    const activations = new Float32Array(channels * plane);
    const gradients = new Float32Array(channels * plane);
    const noise = seeded(channels * plane, 5, -0.05, 0.05);
    for (let k = 0; k < channels; k++) {
      const pattern = patterns[k % 3]!;
      const scale = 1 + (k % 5);
      for (let y = 0; y < height; y++)
        for (let x = 0; x < width; x++)
          activations[k * plane + y * width + x] = scale * (pattern(y, x) + 0.1) + noise[k * plane + y * width + x]!;
      // Pattern 0 carries most of the evidence, pattern 2 little; channels 60.. carry almost none.
      const strength = k >= 60 ? 0.001 : [3, 2, 0.2][k % 3]!;
      gradients.fill(strength, k * plane, (k + 1) * plane);
    }
    const result = clusterLayer({ channels, height, width, activations, gradients });
    expect(result.weights.reduce((a, b) => a + b, 0)).toBeCloseTo(100, 9);
    expect(result.thresholdPercent).toBeCloseTo(1.4, 12);
    expect(result.keptChannels).not.toContain(61); // 0.001 of the evidence is far below 1.4%
    for (const channel of result.keptChannels) expect(result.weights[channel]!).toBeGreaterThanOrEqual(1.4);
    expect(result.k).toBe(3);
    for (const cluster of result.clusters) expect(new Set(cluster.channels.map((c) => c % 3)).size).toBe(1);
    expect(result.clusters[0]!.channels[0]! % 3).toBe(0); // the heaviest cluster first
    expect(result.clusters.map((c) => c.kept)).toEqual([true, true, false]);
    const weightSum = result.clusters.reduce((s, c) => s + c.weight, 0);
    expect(weightSum).toBeCloseTo(
      result.keptChannels.reduce((s, c) => s + result.weights[c]!, 0),
      9,
    );
    expect(Math.max(...result.clusters[0]!.map)).toBeLessThanOrEqual(1);
    const again = clusterLayer({ channels, height, width, activations, gradients });
    expect(again.points).toEqual(result.points);
  });
});

describe('on the demo classifier', () => {
  const dir = 'resources/models/fashion-mnist-cnn';
  const manifest = parseManifest(JSON.parse(readFileSync(`${dir}/classifier.manifest.json`, 'utf8')), 'manifest');
  let engine: CamEngine;
  afterAll(() => engine?.release());

  it('clusters every conv layer of an image, deterministically', async () => {
    engine = await CamEngine.create(
      readFileSync(`${dir}/classifier.onnx`),
      { dims: [1, 28, 28], layout: 'NCHW' },
      (bytes) => ort.InferenceSession.create(bytes),
    );
    expect(convLayers(engine).map((l) => l.name)).toEqual([
      '/features/features.2/Relu_output_0',
      '/features/features.6/Relu_output_0',
      '/features/features.10/Relu_output_0',
    ]);
    const images = readIdx('/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz');
    const input = new Float32Array(784);
    writeNormalised(images.data.subarray(0, 784), manifest, input, 0);
    const first = await layerwise(engine, input, -1);
    expect(first.target).toBe(9); // Ankle boot, as the model predicts
    expect(first.layers).toHaveLength(3);
    for (const { layer, clusters } of first.layers) {
      expect(clusters.mapsTotal).toBe(layer.shape[0]);
      expect(clusters.weights.reduce((a, b) => a + b, 0)).toBeCloseTo(100, 6);
      expect(clusters.keptChannels.length).toBeGreaterThan(3);
      expect(clusters.k).toBeGreaterThanOrEqual(3);
      expect(clusters.k).toBeLessThanOrEqual(8);
      expect(clusters.clusters.some((c) => c.kept)).toBe(true);
      expect(clusters.clusters[0]!.map).toHaveLength(layer.shape[1]! * layer.shape[2]!);
    }
    const second = await layerwise(engine, input, -1);
    expect(second.layers.map((l) => l.clusters.points)).toEqual(first.layers.map((l) => l.clusters.points));
    const trouser = await layerwise(engine, input, 1);
    expect(trouser.target).toBe(1);
  });
});
