/**
 * `xaiws layers` and `xaiws explain` as a user runs them: a separate process, real PNG files of
 * Fashion-MNIST test images, the manifest's preprocessing, JSON Lines out. The maps must match the
 * PyTorch reference for the same images, and a broken file must get its own error line.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/fixtures.ts';
import { ROOT } from '../support/host.ts';
import { decodeFloats, pearson } from '../support/stats.ts';

const run = promisify(execFile);
const reference = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/cam/reference.json'), 'utf8'));
const plain = reference.models.find((m: { name: string }) => m.name === 'plain');
const decode = decodeFloats;

let dir: string;
let images: string[];
let manifest: string;
const model = join(ROOT, 'test/fixtures/cam/plain.onnx');

async function cli(args: string[]) {
  try {
    const { stdout } = await run(process.execPath, [join(ROOT, 'bin/xaiws.mjs'), ...args], {
      env: { ...process.env, XAIWS_HOME: dir },
      maxBuffer: 64 << 20,
    });
    return {
      code: 0,
      lines: stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line)),
    };
  } catch (error) {
    const failure = error as { code: number; stdout: string };
    return {
      code: failure.code,
      lines: failure.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line)),
    };
  }
}

beforeAll(async () => {
  dir = tempDir();
  const raw = gunzipSync(readFileSync('/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz'));
  images = [];
  for (let i = 0; i < reference.inputShape[0]; i++) {
    const path = join(dir, `test-${i}.png`);
    await sharp(raw.subarray(16 + i * 784, 16 + (i + 1) * 784), { raw: { width: 28, height: 28, channels: 1 } })
      .png()
      .toFile(path);
    images.push(path);
  }
  manifest = join(dir, 'plain.manifest.json');
  writeFileSync(
    manifest,
    JSON.stringify({
      format: 'xaiws.classifier/1',
      name: 'plain reference CNN',
      input: { layout: 'NCHW', channels: 1, height: 28, width: 28 },
      output: { kind: 'logits' },
      preprocessing: { scale: 255, mean: [reference.mean], std: [reference.std], resize: 'stretch' },
      classes: [
        'T-shirt/top',
        'Trouser',
        'Pullover',
        'Dress',
        'Coat',
        'Sandal',
        'Shirt',
        'Sneaker',
        'Bag',
        'Ankle boot',
      ],
    }),
  );
});

describe('xaiws layers / explain', () => {
  it('lists the candidate target tensors with shape, op and gradient availability', async () => {
    const { code, lines } = await cli(['layers', '--model', model, '--manifest', manifest]);
    expect(code).toBe(0);
    const names = lines.map((l) => l.name);
    for (const layer of plain.layers) expect(names).toContain(layer.tensor);
    const relu3 = lines.find((l) => l.name === plain.layers[2].tensor);
    expect(relu3).toMatchObject({ shape: [32, 7, 7], op: 'Relu', gradients: true });
  });

  it('explains PNG files like PyTorch does, one JSON line per image, and reports a broken file on its own line', async () => {
    const broken = join(dir, 'broken.png');
    writeFileSync(broken, 'not an image at all');
    const layer = plain.layers[2];
    const { code, lines } = await cli([
      'explain',
      '--model',
      model,
      '--manifest',
      manifest,
      '--method',
      'gradcam++',
      '--layer',
      layer.tensor,
      '--target',
      'pred',
      images[0]!,
      broken,
      ...images.slice(1),
    ]);
    expect(code).toBe(1);
    expect(lines).toHaveLength(images.length + 1);
    expect(lines[1]).toMatchObject({ image: broken, error: { code: 'source_unsupported' } });
    expect(lines[1].error.message).toContain(broken);
    const expected = decode(layer.cases[0].maps['gradcam++']);
    const plane = 49;
    [lines[0], ...lines.slice(2)].forEach((line, i) => {
      expect(line.image).toBe(images[i]);
      expect(line.target).toBe(layer.cases[0].chosen[i]);
      expect(line.layer_shape).toEqual([7, 7]);
      expect(line.logits).toHaveLength(10);
      expect(line.map).toHaveLength(plane);
      expect(pearson(line.map, expected.subarray(i * plane, (i + 1) * plane))).toBeGreaterThanOrEqual(0.999);
    });
  });

  it('fixed target classes, and clear errors for a bad method, layer or target', async () => {
    const layer = plain.layers[1];
    const ok = await cli([
      'explain',
      '--model',
      model,
      '--manifest',
      manifest,
      '--method',
      'scorecam',
      '--layer',
      layer.tensor,
      '--target',
      '3',
      images[0]!,
    ]);
    expect(ok.code).toBe(0);
    expect(ok.lines[0].target).toBe(3);
    expect(pearson(ok.lines[0].map, decode(layer.cases[1].maps.scorecam).subarray(0, 14 * 14))).toBeGreaterThanOrEqual(
      0.999,
    );

    const badMethod = await cli([
      'explain',
      '--model',
      model,
      '--manifest',
      manifest,
      '--method',
      'gradcam2',
      '--layer',
      layer.tensor,
      images[0]!,
    ]);
    expect(badMethod.code).toBe(1);
    expect(badMethod.lines[0].error.message).toMatch(/--method must be one of gradcam, .*got "gradcam2"/);
    const badLayer = await cli([
      'explain',
      '--model',
      model,
      '--manifest',
      manifest,
      '--method',
      'gradcam',
      '--layer',
      'logits',
      images[0]!,
    ]);
    expect(badLayer.lines[0].error).toMatchObject({ code: 'layer_not_found' });
    expect(badLayer.lines[0].error.message).toContain('"logits"');
    const badTarget = await cli([
      'explain',
      '--model',
      model,
      '--manifest',
      manifest,
      '--method',
      'gradcam',
      '--layer',
      layer.tensor,
      '--target',
      '10',
      images[0]!,
    ]);
    expect(badTarget.lines[0].error.message).toMatch(/class index in 0..9 \(got "10"\)/);
  });

  it('pixel attributions need no --layer and come at input resolution; smoothing is an option', async () => {
    const saliency = await cli([
      'explain',
      '--model',
      model,
      '--manifest',
      manifest,
      '--method',
      'saliency',
      images[0]!,
    ]);
    expect(saliency.code).toBe(0);
    expect(saliency.lines[0]).toMatchObject({ image: images[0], layer_shape: [28, 28] });
    expect(saliency.lines[0].map).toHaveLength(784);
    const layer = plain.layers[2];
    const args = ['explain', '--model', model, '--manifest', manifest, '--method', 'gradcam', '--layer', layer.tensor];
    const eigen = await cli([...args, '--smoothing', 'eigen', images[0]!]);
    expect(eigen.code).toBe(0);
    expect(eigen.lines[0].map).toHaveLength(49);
    const plainMap = decode(layer.cases[0].maps.gradcam).subarray(0, 49);
    expect(eigen.lines[0].map).not.toEqual(Array.from(plainMap));
    const bad = await cli([...args, '--smoothing', 'blur', images[0]!]);
    expect(bad.code).toBe(1);
    expect(bad.lines[0].error.message).toMatch(/--smoothing must be one of none, aug, eigen \(got "blur"\)/);
  });
});
