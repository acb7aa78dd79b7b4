/**
 * The gradient builder on every torchvision classification family: each model that
 * bench/models/families.py exported (seeded random weights, opsets 13 and 17, small input sizes) gets
 * its input-gradient graph built, and the gradient of two class scores is compared with PyTorch
 * autograd's on the same weights and input: Pearson correlation and the largest error relative to the
 * largest gradient. Also the time to probe and build (what a first map waits for).
 * Run: /usr/bin/python3 bench/models/families.py /tmp/families && node --import tsx bench/families.ts /tmp/families
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { buildGradientModel, gradientOutputName, TARGET_INPUT } from '../src-main/models/gradient/builder.ts';
import { OnnxModel } from '../src-main/models/onnx/model.ts';
import { probeShapes } from '../src-main/models/onnx/probe.ts';

interface Case {
  name: string;
  opset: number;
  file: string;
  size: number;
  input: number[];
  targets: number[];
  gradients: number[][];
}

const folder = process.argv[2] ?? '/tmp/families';
const { cases } = JSON.parse(readFileSync(join(folder, 'families.json'), 'utf8')) as { cases: Case[] };

function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < a.length; i++) ((ma += a[i]!), (mb += b[i]!));
  ma /= a.length;
  mb /= b.length;
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    const da = a[i]! - ma;
    const db = b[i]! - mb;
    ab += da * db;
    aa += da * da;
    bb += db * db;
  }
  return ab / Math.sqrt(aa * bb);
}

const rows: string[] = [
  '| family | opset | probe + build, s | Pearson (2 classes) | max error / max gradient |',
  '| --- | --- | --- | --- | --- |',
];
for (const c of cases) {
  const started = performance.now();
  try {
    const model = OnnxModel.read(readFileSync(join(folder, c.file)));
    const { shapes, types, batchAxes, values } = await probeShapes(model, [3, c.size, c.size], { threads: 2 });
    const built = buildGradientModel(model, shapes, { targets: ['input'], types, batchAxes, values });
    const session = await ort.InferenceSession.create(built.model.encode(), { intraOpNumThreads: 2 });
    const seconds = (performance.now() - started) / 1000;
    const correlations: number[] = [];
    let worst = 0;
    for (const [i, target] of c.targets.entries()) {
      const out = await session.run({
        input: new ort.Tensor('float32', Float32Array.from(c.input), [1, 3, c.size, c.size]),
        [TARGET_INPUT]: new ort.Tensor('int64', BigInt64Array.from([BigInt(target)]), [1]),
      });
      const ours = out[gradientOutputName('input')]!.data as Float32Array;
      const torch = c.gradients[i]!;
      let scale = 0;
      let error = 0;
      for (let k = 0; k < torch.length; k++) {
        scale = Math.max(scale, Math.abs(torch[k]!));
        error = Math.max(error, Math.abs(ours[k]! - torch[k]!));
      }
      // A class whose score no input reaches (every path through a dead ReLU) has a zero gradient: equal if ours is too.
      correlations.push(scale === 0 ? (error === 0 ? 1 : 0) : pearson(ours, torch));
      worst = Math.max(worst, scale === 0 ? error : error / scale);
    }
    await session.release();
    rows.push(
      `| ${c.name} | ${c.opset} | ${seconds.toFixed(1)} | ${correlations.map((r) => r.toFixed(6)).join(', ')} | ${worst.toExponential(1)} |`,
    );
  } catch (error) {
    rows.push(`| ${c.name} | ${c.opset} | | refused: ${(error as Error).message.slice(0, 120)} | |`);
  }
  console.log(rows.at(-1));
}
console.log(rows.join('\n'));
