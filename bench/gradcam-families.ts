/**
 * The app's CAM engine against pytorch-grad-cam itself on torchvision's CNN families: for each case of
 * bench/models/gradcam_families.py (the library run on the same seeded weights and input, maps at
 * layer resolution), the engine explains the family's ONNX export at opsets 13 and 17 at the same
 * layer and class, and the Pearson correlation of the two maps is reported per method.
 * Run: PYTHONPATH=/tmp/pgc /usr/bin/python3 bench/models/gradcam_families.py /tmp/families &&
 *      node --import tsx bench/gradcam-families.ts /tmp/families
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { CamEngine } from '../src-main/explain/cam/engine.ts';
import { OnnxModel } from '../src-main/models/onnx/model.ts';
import type { CamMethod } from '../src-main/explain/cam/maps.ts';

interface Case {
  name: string;
  module: string;
  layer: string;
  size: number;
  input: number[];
  targets: number[];
  maps: Record<string, number[][]>;
}

const folder = process.argv[2] ?? '/tmp/families';
const { cases } = JSON.parse(readFileSync(join(folder, 'cams.json'), 'utf8')) as { cases: Case[] };

function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) ((ma += a[i]!), (mb += b[i]!));
  ma /= n;
  mb /= n;
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < n; i++) {
    ab += (a[i]! - ma) * (b[i]! - mb);
    aa += (a[i]! - ma) ** 2;
    bb += (b[i]! - mb) ** 2;
  }
  if (aa === 0 && bb === 0) return 1; // both flat (a class no position supports)
  return ab / Math.sqrt(aa * bb);
}

/** The tensor a torch module's output became: the last node named under its scope (as torch names them). */
function tensorOf(model: OnnxModel, path: string): string {
  const parts = path.split('.');
  const scopes = parts.map((part, i) => (/^\d+$/.test(part) ? parts.slice(0, i + 1).join('.') : part));
  const prefix = `/${scopes.join('/')}/`;
  const nodes = model.nodes.filter((node) => node.name?.startsWith(prefix));
  return nodes.at(-1)!.output![0]!;
}

const methods = Object.keys(cases[0]?.maps ?? {});
const rows = [
  `| family | layer | opset | ${methods.join(' | ')} |`,
  `| --- | --- | --- | ${methods.map(() => '---').join(' | ')} |`,
];
for (const c of cases) {
  for (const opset of [13, 17]) {
    const bytes = readFileSync(join(folder, `${c.name}_${opset}.onnx`));
    const layer = tensorOf(OnnxModel.read(bytes), c.module);
    const engine = await CamEngine.create(bytes, { dims: [3, c.size, c.size], layout: 'NCHW' }, (bytes) =>
      ort.InferenceSession.create(bytes, { intraOpNumThreads: 2 }),
    );
    const cells: string[] = [];
    for (const method of methods) {
      try {
        let worst = 1;
        for (const [i, target] of c.targets.entries()) {
          const [result] = await engine.explain(Float32Array.from(c.input), 1, {
            method: (method === 'gradcampp' ? 'gradcam++' : method) as CamMethod,
            layer,
            targets: [target],
          });
          worst = Math.min(worst, pearson(result!.map, c.maps[method]![i]!));
        }
        cells.push(worst.toFixed(6));
      } catch (error) {
        cells.push(`refused: ${(error as Error).message.slice(0, 60)}`);
      }
    }
    await engine.release();
    rows.push(`| ${c.name} | ${c.module} | ${opset} | ${cells.join(' | ')} |`);
    console.log(rows.at(-1));
  }
}
console.log(rows.join('\n'));
