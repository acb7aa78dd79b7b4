/**
 * Explainers for a classifier that takes its input channels last and in BGR order (a Keras-style export):
 * the toolkit trains two steps of DXAI and InfoDisent for it on a small colour folder, and the app loads
 * the bundle (its classifier and InfoDisent inputs declared NHWC), onnxruntime reproduces the toolkit's
 * outputs, and the generative engine, fed pixel-space RGB planes as the app feeds it, gets the
 * classifier's scores for the same images that torch computed from the same pixels.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveBundle } from '../../src-main/explain/bundles.ts';
import { GenerativeEngine } from '../../src-main/explain/generative/engine.ts';
import { loadBundle, type LoadedBundle } from '../../src-main/models/bundle.ts';
import { Workstation } from '../../src-main/workstation.ts';
import { tempDir } from '../support/fixtures.ts';
import { ROOT } from '../support/host.ts';

const PYTHON = '/usr/bin/python3';
let dir: string;
let loaded: LoadedBundle;
let workstation: Workstation;
let reference: {
  checks: {
    model: string;
    inputs: Record<string, { shape: number[]; data: number[] }>;
    outputs: Record<string, { shape: number[]; data: number[] }>;
  }[];
};

beforeAll(async () => {
  dir = tempDir();
  const script = `
import json, os, sys, torch
sys.path.insert(0, "bench/models")
import numpy as np
from PIL import Image
import small_families
out = sys.argv[1]
rng = np.random.default_rng(0)
for c, name in enumerate(["red", "green", "blue"]):
    os.makedirs(os.path.join(out, "images", name))
    for i in range(6):
        array = (rng.random((32, 32, 3)) * 60).astype(np.uint8)
        array[..., c] += 150
        Image.fromarray(array).save(os.path.join(out, "images", name, f"{i}.png"))
model, _ = small_families.build("resnet")
model.fc = torch.nn.Linear(model.fc.in_features, 3)

class ChannelsLastBgr(torch.nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner
    def forward(self, x):  # [N, H, W, C] in B, G, R order
        return self.inner(x.permute(0, 3, 1, 2))

torch.onnx.export(ChannelsLastBgr(model).eval(), torch.zeros(1, 32, 32, 3), os.path.join(out, "keras.onnx"),
                  opset_version=13, input_names=["input"], output_names=["logits"],
                  dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
json.dump({"format": "xaiws.classifier/1", "name": "Keras-style", "output": {"kind": "logits"},
           "input": {"channels": 3, "height": 32, "width": 32, "layout": "NHWC"},
           "preprocessing": {"scale": 1, "mean": [103.9, 116.8, 123.7], "std": [57.4, 57.1, 58.4],
                             "channelOrder": "bgr", "resize": "stretch"},
           "classes": ["red", "green", "blue"]}, open(os.path.join(out, "keras.manifest.json"), "w"))`;
  execFileSync(PYTHON, ['-c', script, dir], { cwd: ROOT });
  execFileSync(
    PYTHON,
    ['-m', 'training', 'explainers', '--model', join(dir, 'keras.onnx'), '--manifest', join(dir, 'keras.manifest.json')]
      .concat(['--data', join(dir, 'images'), '--out', join(dir, 'bundle'), '--roles', 'dxai,infodisent'])
      .concat(['--steps', '2', '--epochs', '1', '--threads', '1']),
    { cwd: ROOT, stdio: 'ignore' },
  );
  workstation = new Workstation({ dataDir: tempDir(), resourcesDir: join(ROOT, 'resources'), transport: 'cli' });
  loaded = await loadBundle(join(dir, 'bundle'), (file, sha256) =>
    workstation.pool.call('inspect', { key: sha256, path: file }),
  );
  reference = JSON.parse(readFileSync(join(dir, 'bundle', 'reference.json'), 'utf8'));
});

afterAll(() => workstation?.shutdown());

describe('a channels-last BGR classifier', () => {
  it('gets a bundle whose classifier and InfoDisent inputs are declared channels last', () => {
    const { bundle } = loaded;
    expect(bundle.preprocessing).toMatchObject({ layout: 'NHWC', channelOrder: 'bgr', scale: 1 });
    expect(bundle.models.classifier.inputs[0]!.shape).toEqual(['N', 32, 32, 3]);
    expect(bundle.models.infodisent!.inputs[0]!.shape).toEqual(['N', 32, 32, 3]);
    expect(bundle.models.dxai!.inputs[0]!.shape).toEqual(['N', 3, 32, 32]);
  });

  it.each(['classifier', 'dxai', 'infodisent'])('%s: onnxruntime reproduces the toolkit within 1e-4', async (role) => {
    const check = reference.checks.find((c) => c.model === role)!;
    const session = await ort.InferenceSession.create(join(dir, 'bundle', loaded.bundle.models[role as 'dxai']!.file));
    const feeds = Object.fromEntries(
      Object.entries(check.inputs).map(([name, v]) => [
        name,
        name === 'class'
          ? new ort.Tensor('int64', BigInt64Array.from(v.data.map(BigInt)), v.shape)
          : new ort.Tensor('float32', Float32Array.from(v.data), v.shape),
      ]),
    );
    const outputs = await session.run(feeds);
    for (const [name, expected] of Object.entries(check.outputs)) {
      const got = outputs[name]!.data as Float32Array;
      const scale = Math.max(...expected.data.map(Math.abs), 1e-6);
      const worst = expected.data.reduce((w, v, i) => Math.max(w, Math.abs(v - got[i]!)), 0);
      expect(worst / scale, `${role} ${name}`).toBeLessThan(1e-4);
    }
    await session.release();
  });

  it('the engine turns pixel-space RGB planes into the model input: the same scores as torch', async () => {
    const ref = resolveBundle(loaded).ref;
    const engine = new GenerativeEngine(ref, (path) => ort.InferenceSession.create(path));
    // The DXAI check's inputs are the pixel-space images; the classifier check's logits are torch's on them.
    const pixels = Float32Array.from(reference.checks.find((c) => c.model === 'dxai')!.inputs.image!.data);
    const logits = reference.checks.find((c) => c.model === 'classifier')!.outputs.logits!.data;
    const count = pixels.length / (3 * 32 * 32);
    const probabilities = await engine.classify(pixels, count);
    for (let i = 0; i < count; i++) {
      const row = logits.slice(i * 3, i * 3 + 3);
      const top = Math.max(...row);
      const exp = row.map((v) => Math.exp(v - top));
      const sum = exp.reduce((a, b) => a + b, 0);
      exp.forEach((v, c) => expect(probabilities[i * 3 + c]).toBeCloseTo(v / sum, 4));
    }
    await engine.release();
  });
});
