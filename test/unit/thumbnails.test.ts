/**
 * Import thumbnails: small images are decoded in full and shrunk by area averages in JS, larger ones
 * by libvips with shrink-on-load. Both must give the same picture, upright, in the right channels.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeFile, THUMBNAIL_SIZE } from '../../src-main/datasets/read/decode.ts';
import { fitInside, SHRINK_IN_JS_PIXELS, shrinkToFit } from '../../src-main/datasets/read/shrink.ts';

const dir = mkdtempSync(join(tmpdir(), 'xaiws-thumbnails-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Pseudo-random bytes, the same every run. */
function noise(length: number, seed = 7): Uint8Array {
  let state = seed;
  return Uint8Array.from({ length }, () => (state = (state * 1103515245 + 12345) >>> 0) >>> 24);
}

/** Block means written out plainly, as the reference for the fast paths. */
function naiveBlockMeans(pixels: Uint8Array, width: number, height: number, channels: number, f: number) {
  const out = new Uint8Array((width / f) * (height / f) * channels);
  for (let oy = 0; oy < height / f; oy++)
    for (let ox = 0; ox < width / f; ox++)
      for (let c = 0; c < channels; c++) {
        let sum = 0;
        for (let y = 0; y < f; y++)
          for (let x = 0; x < f; x++) sum += pixels[((oy * f + y) * width + ox * f + x) * channels + c]!;
        out[(oy * (width / f) + ox) * channels + c] = Math.round(sum / (f * f));
      }
  return out;
}

/** A smooth colour picture (so that any good downscaler gives nearly the same thumbnail). */
function gradient(width: number, height: number): Buffer {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = Math.round((255 * x) / width);
      data[i + 1] = Math.round((255 * y) / height);
      data[i + 2] = Math.round(128 + 100 * Math.sin((x + y) / 40));
    }
  return data;
}

async function thumbnailOf(path: string) {
  const decoded = await decodeFile(path);
  const { data, info } = await sharp(decoded.thumbnail.png).raw().toBuffer({ resolveWithObject: true });
  return { decoded, data, info };
}

describe('shrinkToFit', () => {
  it('averages exact blocks when the sizes divide, for 1, 3 and 4 channels', () => {
    const grey = Uint8Array.from([0, 10, 20, 30, 2, 12, 22, 33]); // 4 x 2, into 2 x 1
    expect(Array.from(shrinkToFit(grey, 4, 2, 1, 2).data)).toEqual([6, 26]); // (0+10+2+12)/4, (20+30+22+33)/4 rounded
    for (const channels of [1, 3, 4]) {
      const pixels = noise(256 * 192 * channels, channels);
      const shrunk = shrinkToFit(pixels, 256, 192, channels, THUMBNAIL_SIZE);
      expect([shrunk.width, shrunk.height]).toEqual([64, 48]);
      expect(Array.from(shrunk.data)).toEqual(Array.from(naiveBlockMeans(pixels, 256, 192, channels, 4)));
    }
  });

  it('weighs partly covered pixels by their area when the sizes do not divide', () => {
    const constant = new Uint8Array(300 * 200 * 3).fill(93);
    const shrunk = shrinkToFit(constant, 300, 200, 3, THUMBNAIL_SIZE);
    expect([shrunk.width, shrunk.height]).toEqual([64, 43]);
    expect(shrunk.data.every((v) => v === 93)).toBe(true);
    // A ramp keeps its mean and stays monotonic along x.
    const ramp = Uint8Array.from({ length: 301 * 7 }, (_, i) => Math.round(((i % 301) * 255) / 300));
    const out = shrinkToFit(ramp, 301, 7, 1, 64);
    const mean = (values: Uint8Array) => values.reduce((a, b) => a + b, 0) / values.length;
    expect(Math.abs(mean(out.data) - mean(ramp))).toBeLessThan(0.6);
    const row = Array.from(out.data.subarray(0, out.width));
    expect(row.every((v, i) => i === 0 || v >= row[i - 1]!)).toBe(true);
  });

  it('leaves an image that already fits as it is', () => {
    const pixels = noise(40 * 30);
    expect(shrinkToFit(pixels, 40, 30, 1, 64).data).toBe(pixels);
    expect(fitInside(40, 30, 64)).toEqual({ width: 40, height: 30 });
    expect(fitInside(1000, 10, 64)).toEqual({ width: 64, height: 1 });
  });
});

describe('import thumbnails of JPEGs', () => {
  it('gives a small JPEG (shrunk in JS) the thumbnail libvips would make', async () => {
    const path = join(dir, 'small.jpg');
    writeFileSync(
      path,
      await sharp(gradient(256, 256), { raw: { width: 256, height: 256, channels: 3 } })
        .jpeg()
        .toBuffer(),
    );
    const { decoded, data, info } = await thumbnailOf(path);
    expect([decoded.width, decoded.height, decoded.channels]).toEqual([256, 256, 3]);
    expect([info.width, info.height, info.channels]).toEqual([64, 64, 3]);
    const reference = await sharp(path).resize(64, 64, { fit: 'inside', kernel: 'linear' }).raw().toBuffer();
    const difference = data.reduce((sum, v, i) => sum + Math.abs(v - reference[i]!), 0) / data.length;
    expect(difference).toBeLessThan(2);
  });

  it('turns photos upright by their EXIF orientation, below and above the size shrunk in JS', async () => {
    for (const [width, height] of [
      [200, 100],
      [1200, 600],
    ] as const) {
      expect(width * height > SHRINK_IN_JS_PIXELS).toBe(width > 500); // one case on each side of the limit
      const path = join(dir, `rotated-${width}.jpg`);
      const raw = gradient(width, height);
      writeFileSync(
        path,
        await sharp(raw, { raw: { width, height, channels: 3 } })
          .withMetadata({ orientation: 6 }) // shown turned 90 degrees clockwise
          .jpeg()
          .toBuffer(),
      );
      const { data, info } = await thumbnailOf(path);
      expect([info.width, info.height]).toEqual([32, 64]);
      // Turned clockwise, the picture's left column (red 0) is at the top: red grows downwards.
      const red = (x: number, y: number) => data[(y * info.width + x) * 3]!;
      expect(red(16, 60)).toBeGreaterThan(red(16, 3) + 150);
    }
  });

  it('keeps a grey JPEG grey', async () => {
    const path = join(dir, 'grey.jpg');
    const pixels = Buffer.from(noise(128 * 96));
    writeFileSync(
      path,
      await sharp(pixels, { raw: { width: 128, height: 96, channels: 1 } })
        .toColourspace('b-w') // a one-channel JPEG (sharp writes sRGB otherwise)
        .jpeg()
        .toBuffer(),
    );
    const { decoded, info } = await thumbnailOf(path);
    expect(decoded.channels).toBe(1);
    expect([info.width, info.height]).toEqual([64, 48]);
  });
});
