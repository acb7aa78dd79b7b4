/**
 * The gradient graph op by op against PyTorch autograd: small modules exported by
 * training/cam_reference.py (test/fixtures/cam/ops.json) with the input gradient of two output entries
 * computed by torch. Together with the three reference networks they cover the gradient op list.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import {
  buildGradientModel,
  GRADIENT_OPS,
  gradientOutputName,
  TARGET_INPUT,
} from '../../src-main/models/gradient/builder.ts';
import { OnnxModel } from '../../src-main/models/onnx/model.ts';
import { decodeFloats } from '../support/stats.ts';
import { probeShapes } from '../../src-main/models/onnx/probe.ts';

const folder = 'test/fixtures/cam';
type Cases = {
  cases: { name: string; file: string; shape: number[]; input: string; targets: number[]; gradients: string[] }[];
};
const fixture = JSON.parse(readFileSync(join(folder, 'ops.json'), 'utf8')) as Cases;
// The ops of modern architectures, at opsets 13 and 17 as torch exports them and at the opsets that
// introduced Gelu, Mish and GroupNormalization (training/modern_ops.py).
const modern = JSON.parse(readFileSync(join(folder, 'modern-ops.json'), 'utf8')) as Cases;
const decode = decodeFloats;
const seen = new Set<string>();

describe('gradient graph against PyTorch autograd, op by op', () => {
  for (const c of [...fixture.cases, ...modern.cases]) {
    it(c.name, async () => {
      const model = OnnxModel.read(readFileSync(join(folder, c.file)));
      for (const node of model.nodes) seen.add(node.opType ?? '');
      const { shapes, types } = await probeShapes(model, c.shape);
      const built = buildGradientModel(model, shapes, { targets: ['x'], types });
      const session = await ort.InferenceSession.create(built.model.encode(), { graphOptimizationLevel: 'all' });
      const x = decode(c.input);
      for (const [i, target] of c.targets.entries()) {
        const out = await session.run({
          x: new ort.Tensor('float32', x, [1, ...c.shape]),
          [TARGET_INPUT]: new ort.Tensor('int64', BigInt64Array.from([BigInt(target)]), [1]),
        });
        const ours = out[gradientOutputName('x')]!.data as Float32Array;
        const torch = decode(c.gradients[i]!);
        const scale = Math.max(1, ...Array.from(torch, Math.abs));
        const worst = Math.max(...Array.from(ours, (v, k) => Math.abs(v - torch[k]!)));
        expect(worst / scale, `${c.name}, output ${target}`).toBeLessThan(1e-5);
      }
    });
  }

  it('together with the reference networks, covers the op list (Identity and Dropout vanish on export)', () => {
    const reference = JSON.parse(readFileSync(join(folder, 'reference.json'), 'utf8')) as {
      models: { ops: string[] }[];
    };
    for (const m of reference.models) for (const op of m.ops) seen.add(op);
    const missing = GRADIENT_OPS.filter((op) => !seen.has(op));
    expect(missing).toEqual(['Identity', 'Dropout', 'ReduceMin']);
  });
});
