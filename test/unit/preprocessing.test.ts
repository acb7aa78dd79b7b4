/**
 * The manifest's preprocessing against torchvision's transforms (test/fixtures/preprocessing,
 * bench/models/preprocessing_reference.py): ImageNet's Resize(256) + CenterCrop(224) is
 * `"resize": "cover", "crop": 0.875`, Resize((224, 224)) is `"resize": "stretch"`, on a wide, a tall
 * and a square JPEG. Resampling differs (PIL's antialiased bilinear against libvips' Lanczos), so the
 * pixels agree closely, not exactly; a crop off by a few pixels would not. Also Keras-style inputs:
 * channels last, BGR order, Caffe means without scaling, and TensorFlow's [-1, 1].
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Manifest } from '../../src-shared/contract.ts';
import { pixelsForModel } from '../../src-main/inference/runtime/preprocess.ts';
import { writeNormalised } from '../../src-main/inference/runtime/tensor.ts';
import { pearson } from '../support/stats.ts';

const folder = 'test/fixtures/preprocessing';
const reference = JSON.parse(readFileSync(join(folder, 'torchvision.json'), 'utf8')) as {
  mean: number[];
  std: number[];
  cases: { image: string; mode: 'cover-crop' | 'stretch'; size: [number, number]; pixels: string }[];
};

const manifest = (preprocessing: Record<string, unknown>, input: Record<string, unknown> = {}) =>
  Manifest.parse({
    format: 'xaiws.classifier/1',
    name: 'test',
    input: { channels: 3, height: 224, width: 224, ...input },
    output: {},
    preprocessing,
    classes: ['a', 'b'],
  });

function shifted(pixels: Uint8Array, dx: number): Uint8Array {
  const out = new Uint8Array(pixels.length);
  for (let y = 0; y < 224; y++)
    for (let x = 0; x < 224; x++)
      for (let c = 0; c < 3; c++) out[(y * 224 + x) * 3 + c] = pixels[(y * 224 + Math.min(223, x + dx)) * 3 + c]!;
  return out;
}

describe('preprocessing as torchvision does it', () => {
  for (const c of reference.cases) {
    it(`${c.mode} of the ${c.size.join('x')} ${c.image}`, async () => {
      const expected = new Uint8Array(Buffer.from(c.pixels, 'base64'));
      const chosen =
        c.mode === 'cover-crop' ? manifest({ resize: 'cover', crop: 0.875 }) : manifest({ resize: 'stretch' });
      const [width, height] = c.size;
      const ours = await pixelsForModel(
        { filePath: join(folder, c.image), width, height, channels: 3, pixels: null },
        chosen,
      );
      expect(ours).toHaveLength(expected.length);
      let error = 0;
      for (let i = 0; i < ours.length; i++) error += Math.abs(ours[i]! - expected[i]!);
      error /= ours.length;
      expect(error, 'mean absolute difference in 8-bit levels').toBeLessThan(3);
      expect(pearson(ours, expected)).toBeGreaterThan(0.99);
      // The same comparison notices a crop 4 px off centre.
      expect(pearson(shifted(ours, 4), expected)).toBeLessThan(pearson(ours, expected) - 0.005);
    });
  }
});

describe('Keras-style inputs', () => {
  const pixels = Uint8Array.from([10, 20, 30, 200, 100, 0]); // two RGB pixels
  it('channels last, BGR, Caffe means on 0..255', () => {
    const caffe = manifest(
      { scale: 1, mean: [103.939, 116.779, 123.68], std: [1], channelOrder: 'bgr' },
      { layout: 'NHWC', height: 1, width: 2 },
    );
    const out = new Float32Array(6);
    writeNormalised(pixels, caffe, out, 0);
    expect(Array.from(out)).toEqual(
      [30 - 103.939, 20 - 116.779, 10 - 123.68, 0 - 103.939, 100 - 116.779, 200 - 123.68].map(Math.fround),
    );
  });
  it("TensorFlow's x / 127.5 - 1, channels last", () => {
    const tf = manifest({ scale: 255, mean: [0.5], std: [0.5] }, { layout: 'NHWC', height: 1, width: 2 });
    const out = new Float32Array(6);
    writeNormalised(pixels, tf, out, 0);
    Array.from(out).forEach((v, i) => expect(v).toBeCloseTo(pixels[i]! / 127.5 - 1, 6));
  });
});
