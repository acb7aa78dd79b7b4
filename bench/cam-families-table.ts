/**
 * The family x method table of test/unit/cam-families.test.ts as markdown, for docs/BENCHMARKS.md: per
 * small torchvision family (bench/models/small_families.py) and opset, the smaller Pearson correlation
 * of the two classes between the CAM engine's map and pytorch-grad-cam's (the committed reference),
 * either sign for the projections. The test asserts >= 0.999 for every cell; this prints the numbers.
 * Run: /usr/bin/python3 bench/models/small_families.py export /tmp/sf && node --import tsx bench/cam-families-table.ts /tmp/sf
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { CamEngine } from '../src-main/explain/cam/engine.ts';
import type { CamMethod } from '../src-main/explain/cam/maps.ts';
import { decodeFloats, pearson } from '../test/support/stats.ts';

interface Reference {
  name: string;
  module: string;
  size: [number, number];
  targets: number[];
  maps: Record<string, string[][]>;
}

async function main() {
  const folder = process.argv[2] ?? '/tmp/sf';
  const references = JSON.parse(readFileSync('test/fixtures/cam/families/families.json', 'utf8')).cases as Reference[];
  type Exported = { name: string; input: string; layers: Record<string, string>; layouts: null | object };
  const cases = JSON.parse(readFileSync(join(folder, 'export.json'), 'utf8')).cases as Exported[];
  const exported = new Map(cases.map((c) => [c.name, c]));
  const methods = [...new Set(references.flatMap((r) => Object.keys(r.maps)))];
  const rows = [
    `| family | layer | opset | ${methods.join(' | ')} |`,
    `| --- | --- | --- | ${methods.map(() => '---').join(' | ')} |`,
  ];
  for (const reference of references) {
    const family = exported.get(reference.name)!;
    for (const opset of [13, 17]) {
      const [height, width] = reference.size;
      const engine = await CamEngine.create(
        readFileSync(join(folder, `${reference.name}_${opset}.onnx`)),
        { dims: [3, height, width], layout: 'NCHW' },
        (bytes) => ort.InferenceSession.create(bytes, { intraOpNumThreads: 2 }),
        { layouts: family.layouts ?? undefined },
      );
      const cells = [];
      for (const method of methods) {
        if (!reference.maps[method]) {
          cells.push('refused');
          continue;
        }
        let worst = 1;
        for (const [t, target] of reference.targets.entries()) {
          const [result] = await engine.explain(decodeFloats(family.input), 1, {
            method: method as CamMethod,
            layer: family.layers[opset]!,
            targets: [target],
          });
          const alternatives = reference.maps[method][t]!.map(decodeFloats);
          if (alternatives.some((a) => a.some((v) => !Number.isFinite(v)))) continue; // the library's NaN
          const flat = (v: Float32Array) => Math.max(...v) - Math.min(...v) < 1e-7;
          const r =
            alternatives.every(flat) && flat(result!.map)
              ? 1
              : Math.max(...alternatives.map((a) => pearson(result!.map, a)));
          worst = Math.min(worst, r);
        }
        cells.push(worst.toFixed(6));
      }
      await engine.release();
      rows.push(`| ${reference.name} | ${reference.module} | ${opset} | ${cells.join(' | ')} |`);
      console.error(rows.at(-1));
    }
  }
  console.log(rows.join('\n'));
}

void main();
