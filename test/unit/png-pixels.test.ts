/**
 * The grid's PNG reader (src-renderer/lib/png-pixels.ts, run in the renderer's thumbnail worker) against
 * pngjs: every colour type and row filter, sharp's PNGs, and PNGs it must leave to the browser or refuse.
 */
import { deflateSync } from 'node:zlib';
import { PNG } from 'pngjs';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { pngPixels as thumbnailPixels, toRgba } from '../../src-renderer/lib/png-pixels.ts';

/** Seeded pixels with smooth runs and sharp edges, so that every filter has work to do. */
function rgbaImage(width: number, height: number, seed: number): Buffer {
  const data = Buffer.alloc(width * height * 4);
  let state = seed;
  for (let i = 0; i < data.length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    data[i] = (i % 7 === 0 ? state >>> 24 : (i * 3 + (i >> 8)) & 0xff) | 0;
  }
  return data;
}

/** What pngjs itself reads from the PNG, as RGBA. */
function reference(png: Buffer): { width: number; height: number; data: Buffer } {
  const image = PNG.sync.read(png);
  return { width: image.width, height: image.height, data: image.data };
}

function chunk(type: string, body: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(body.length);
  return Buffer.concat([length, Buffer.from(type, 'latin1'), body, Buffer.alloc(4)]);
}

/** A PNG put together by hand: an IHDR with the given fields and one IDAT of `idat` deflated. */
function handMade(width: number, height: number, colourType: number, idat: Buffer, depth = 8): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = depth;
  header[9] = colourType;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(idat)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

describe('thumbnail pixels', () => {
  it('reads every colour type and every row filter as pngjs does', async () => {
    const source = rgbaImage(37, 23, 7);
    for (const colorType of [0, 2, 4, 6] as const) {
      for (const filterType of [-1, 0, 1, 2, 3, 4]) {
        const png = PNG.sync.write({ width: 37, height: 23, data: source } as PNG, {
          colorType,
          inputColorType: 6,
          inputHasAlpha: true,
          filterType,
        });
        const pixels = (await thumbnailPixels(png))!;
        expect(pixels, `colour type ${colorType}, filter ${filterType}`).not.toBeNull();
        expect(pixels.channels).toBe({ 0: 1, 4: 2, 2: 3, 6: 4 }[colorType]);
        const expected = reference(png);
        expect([pixels.width, pixels.height]).toEqual([expected.width, expected.height]);
        expect(
          Buffer.from(toRgba(pixels)).equals(expected.data),
          `colour type ${colorType}, filter ${filterType}`,
        ).toBe(true);
      }
    }
  });

  it("reads sharp's PNGs, and leaves palette and 16-bit ones to the browser's decoder", async () => {
    const raw = rgbaImage(64, 48, 3);
    const image = () => sharp(raw, { raw: { width: 64, height: 48, channels: 4 } });
    const rgb = await image().removeAlpha().png().toBuffer();
    const pixels = await thumbnailPixels(rgb);
    expect(pixels?.channels).toBe(3);
    expect(Buffer.from(toRgba(pixels!)).equals(reference(rgb).data)).toBe(true);
    expect(await thumbnailPixels(await image().png({ palette: true }).toBuffer())).toBeNull();
    expect(await thumbnailPixels(await image().toColourspace('rgb16').png().toBuffer())).toBeNull();
  });

  it('answers null for PNGs it must not trust, without reading past them', async () => {
    const rows = (width: number, height: number, channels: number, filter = 0) =>
      Buffer.concat(
        Array.from({ length: height }, () => Buffer.concat([Buffer.from([filter]), Buffer.alloc(width * channels, 9)])),
      );
    const good = handMade(4, 3, 2, rows(4, 3, 3));
    expect((await thumbnailPixels(good))?.data.length).toBe(36);
    // sides over the bound (checked before anything is inflated)
    expect(await thumbnailPixels(handMade(100_000, 1, 2, rows(1, 1, 3)))).toBeNull();
    expect(await thumbnailPixels(handMade(0, 3, 2, rows(4, 3, 3)))).toBeNull();
    // more data than the sides say (a small IDAT inflating to 64 MB), and less
    expect(await thumbnailPixels(handMade(4, 3, 2, Buffer.alloc(64 * 1024 * 1024)))).toBeNull();
    expect(await thumbnailPixels(handMade(4, 3, 2, rows(4, 2, 3)))).toBeNull();
    // a filter byte that does not exist
    expect(await thumbnailPixels(handMade(4, 3, 2, rows(4, 3, 3, 7)))).toBeNull();
    // not a PNG, cut short, a chunk longer than the file, a colour type that does not exist
    expect(await thumbnailPixels(Buffer.from('GIF89a this is not a png at all, honestly'))).toBeNull();
    expect(await thumbnailPixels(good.subarray(0, 40))).toBeNull();
    const overlong = Buffer.from(good);
    overlong.writeUInt32BE(0x7fffffff, 33);
    expect(await thumbnailPixels(overlong)).toBeNull();
    expect(await thumbnailPixels(handMade(4, 3, 5, rows(4, 3, 3)))).toBeNull();
    expect(await thumbnailPixels(new Uint8Array(0))).toBeNull();
  });
});
